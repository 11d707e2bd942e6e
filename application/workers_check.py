"""Readiness detail on workers: how many are alive to execute queued runs.

No live worker is a ``warn``, never a ``fail``: an API process without
workers still serves every request, and restarting it would not bring a worker
back (the orchestrator should restart what a restart fixes).
"""

from __future__ import annotations

from thedata.application.errors import DependencyUnavailable
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.use_cases.worker_presence import ListWorkers


class WorkersCheck:
    """Counts the workers heard of recently."""

    component = "workers"

    def __init__(self, list_workers: ListWorkers, clock: Clock) -> None:
        self._list, self._clock = list_workers, clock

    async def check(self) -> tuple[CheckResult, ...]:
        try:
            seen = await self._list()
        except DependencyUnavailable as e:
            # the database check fails for this already; here it is only unknown
            return (self._result(HealthStatus.WARN, None, f"workers unknown: {e}"),)
        live = seen.live
        if not live:
            silent = f"; {len(seen.workers)} silent" if seen.workers else ""
            output = (
                f"no worker heard of in the last {seen.silent_after.seconds} s{silent}: "
                "queued runs wait (start `thedata worker`, or `thedata serve` with its worker)"
            )
            return (self._result(HealthStatus.WARN, 0, output),)
        # how busy they are stays with operators (`thedata workers`): readiness is public
        return (self._result(HealthStatus.PASS, len(live), f"{len(live)} live"),)

    def _result(self, status: HealthStatus, live: int | None, output: str) -> CheckResult:
        return CheckResult(
            component=self.component,
            measurement="live",
            status=status,
            time=self._clock.now(),
            observed_value=live,
            observed_unit="workers" if live is not None else None,
            output=output,
        )
