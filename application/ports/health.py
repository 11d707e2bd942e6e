"""A component the service depends on, able to say whether it can serve now."""

from __future__ import annotations

from typing import Protocol

from thedata.application.health import CheckResult


class HealthCheck(Protocol):
    """Checks one dependency (the database, the secret store, ...).

    ``check`` returns results rather than raising: an unreachable dependency is
    a ``fail`` result with an ``output`` saying why.
    """

    @property
    def component(self) -> str:
        """The dependency's name in the health report, e.g. ``database``."""
        ...

    async def check(self) -> tuple[CheckResult, ...]:
        """Probe the dependency once and describe what was seen."""
        ...
