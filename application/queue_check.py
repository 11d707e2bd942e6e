"""Readiness detail on the run queue: how long the longest queued run has waited.

A backlog is a ``warn``, never a ``fail``: the API still serves every request, and
restarting it would not drain the queue (more workers would).
"""

from __future__ import annotations

from thedata.application.errors import DependencyUnavailable
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.application.use_cases.run_queue import backlog_of


class QueueCheck:
    """Warns when a queued run has waited longer than ``warn_after`` seconds."""

    component = "runs"

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, warn_after: float) -> None:
        self._uow, self._clock, self._warn_after = uow, clock, warn_after

    async def check(self) -> tuple[CheckResult, ...]:
        try:
            backlog = await backlog_of(self._uow)
        except DependencyUnavailable as e:
            # the database check fails for this already; here it is only unknown
            return (self._result(HealthStatus.WARN, None, f"queue unknown: {e}"),)
        waited = round(backlog.oldest_wait_seconds, 1)
        if waited > self._warn_after:
            output = (
                f"{backlog.queued} runs queued, the oldest for {waited:g} s (over "
                f"{self._warn_after:g} s): workers are too few, stopped or failing"
            )
            return (self._result(HealthStatus.WARN, waited, output),)
        return (self._result(HealthStatus.PASS, waited, f"{backlog.queued} runs queued"),)

    def _result(self, status: HealthStatus, waited: float | None, output: str) -> CheckResult:
        return CheckResult(
            component=self.component,
            measurement="oldest queued",
            status=status,
            time=self._clock.now(),
            observed_value=waited,
            observed_unit="s" if waited is not None else None,
            output=output,
        )
