"""Use cases of theData.io and the ports they need; depends on the domain only."""

from thedata.application.errors import ConcurrentUpdate, DatabaseUnavailable, DependencyUnavailable
from thedata.application.health import CheckResult, HealthReport, HealthStatus

__all__ = [
    "CheckResult",
    "ConcurrentUpdate",
    "DatabaseUnavailable",
    "DependencyUnavailable",
    "HealthReport",
    "HealthStatus",
]
