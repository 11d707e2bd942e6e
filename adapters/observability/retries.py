"""Each retry stamina schedules: a log line (never with the call's arguments) and a count."""

from __future__ import annotations

import stamina.instrumentation
import structlog

from thedata.adapters.observability.metrics import count_retry

# stamina names every retried block alike; the only one in the service retries a stream
_CONTEXT_BLOCK = "<context block>"
STREAM_OPERATION = "stream"


def _operation(details: stamina.instrumentation.RetryDetails) -> str:
    return STREAM_OPERATION if details.name == _CONTEXT_BLOCK else details.name


def _log_retry_without_arguments(details: stamina.instrumentation.RetryDetails) -> None:
    # stamina's own hook logs the call's arguments, which may carry credentials
    structlog.get_logger("stamina").warning(
        "retry scheduled",
        callable=_operation(details),
        retry_num=details.retry_num,
        wait_for=round(details.wait_for, 2),
        caused_by=type(details.caused_by).__name__,
    )


def _count_retry(details: stamina.instrumentation.RetryDetails) -> None:
    count_retry(_operation(details), details.caused_by)


def instrument_retries() -> None:
    """Make stamina log and count each retry (its own hooks would log the arguments)."""
    stamina.instrumentation.set_on_retry_hooks([_log_retry_without_arguments, _count_retry])
