"""Circuit breaker state changes, as log events an operator can follow."""

from __future__ import annotations

from uuid import UUID

import structlog

from thedata.domain.circuit_breaker import CircuitState, Transition

log = structlog.get_logger("thedata.circuit")


def log_transition(data_source_id: UUID, kind: str, transition: Transition) -> None:
    """Log a data source's breaker moving: opening is a warning, the rest information."""
    level = log.warning if transition.after is CircuitState.OPEN else log.info
    level(
        f"circuit {transition.after.value.replace('_', '-')}",
        data_source_id=str(data_source_id),
        kind=kind,
        before=transition.before.value,
        after=transition.after.value,
        reason=transition.reason,
    )
