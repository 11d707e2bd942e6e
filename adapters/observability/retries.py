"""Each retry stamina schedules: a log line (never with the call's arguments) and a count."""

from __future__ import annotations

import stamina.instrumentation
import structlog

from thedata.adapters.observability.metrics import count_retry


def _log_retry_without_arguments(details: stamina.instrumentation.RetryDetails) -> None:
    # stamina's own hook logs the call's arguments, which may carry credentials
    structlog.get_logger("stamina").warning(
        "retry scheduled",
        callable=details.name,
        retry_num=details.retry_num,
        wait_for=round(details.wait_for, 2),
        caused_by=type(details.caused_by).__name__,
    )


def _count_retry(details: stamina.instrumentation.RetryDetails) -> None:
    count_retry(details.name, details.caused_by)


def instrument_retries() -> None:
    """Make stamina log and count each retry (its own hooks would log the arguments)."""
    stamina.instrumentation.set_on_retry_hooks([_log_retry_without_arguments, _count_retry])
