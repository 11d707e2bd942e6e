"""Decide whether this process can serve traffic now."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from thedata.application.health import CheckResult, HealthReport, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.ports.health import HealthCheck


class CheckReadiness:
    """Run every dependency check at once, each bounded by ``timeout`` seconds.

    A check that overruns its time is reported as failed instead of holding the
    answer back: a load balancer asking "ready?" must get a reply in time,
    especially while a dependency hangs.
    """

    def __init__(self, checks: Sequence[HealthCheck], clock: Clock, timeout: float) -> None:
        self._checks = tuple(checks)
        self._clock = clock
        self._timeout = timeout

    async def __call__(self) -> HealthReport:
        """Probe all dependencies concurrently and combine the results."""
        results = await asyncio.gather(*(self._bounded(check) for check in self._checks))
        return HealthReport.of(tuple(r for group in results for r in group))

    async def _bounded(self, check: HealthCheck) -> tuple[CheckResult, ...]:
        try:
            return await asyncio.wait_for(check.check(), timeout=self._timeout)
        except TimeoutError:
            return (
                CheckResult(
                    component=check.component,
                    measurement="responseTime",
                    status=HealthStatus.FAIL,
                    time=self._clock.now(),
                    output=f"no answer within {self._timeout * 1000:.0f} ms",
                ),
            )
