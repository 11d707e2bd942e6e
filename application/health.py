"""What a health check reports, and how reports combine into one verdict."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import frozen


class HealthStatus(enum.Enum):
    """The three states of the IETF health-check draft, ordered from good to bad."""

    PASS = "pass"  # noqa: S105 - a health status, not a password
    WARN = "warn"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        """0 for pass, 1 for warn, 2 for fail: the larger one wins when combining."""
        return _SEVERITY[self]


_SEVERITY = {HealthStatus.PASS: 0, HealthStatus.WARN: 1, HealthStatus.FAIL: 2}


@frozen
class CheckResult:
    """The outcome of one check of one component.

    ``output`` explains a warn or fail for an operator; it names what failed and
    never carries connection strings, SQL or secrets.
    """

    component: str
    measurement: str
    status: HealthStatus
    time: datetime
    observed_value: float | int | None = None
    observed_unit: str | None = None
    component_type: str = "component"
    output: str | None = None


@frozen
class HealthReport:
    """Every check result, and the worst status among them."""

    status: HealthStatus
    checks: tuple[CheckResult, ...]

    @classmethod
    def of(cls, checks: tuple[CheckResult, ...]) -> HealthReport:
        """Combine results: the report is as healthy as its least healthy check."""
        worst = max((c.status for c in checks), key=lambda s: s.severity, default=HealthStatus.PASS)
        return cls(status=worst, checks=checks)
