"""Cancel a run (members and up): at once when queued, at its next batch when running."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.errors import ConcurrentUpdate
from thedata.application.ports import Clock, NoRunMetrics, RunMetrics, UnitOfWorkFactory
from thedata.application.use_cases.get_run import find_run
from thedata.domain.access import Action
from thedata.domain.principal import Principal
from thedata.domain.runs import Run


class CancelRun:
    """``RunFinished`` (409) for a run that already ended."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, metrics: RunMetrics | None = None
    ) -> None:
        self._uow, self._clock = uow, clock
        self._metrics = metrics or NoRunMetrics()

    async def __call__(self, principal: Principal, organization_id: UUID, run_id: UUID) -> Run:
        """The run, cancelled or asked to stop."""
        authorize(principal, organization_id, Action.WRITE)
        async with self._uow() as uow:
            run = await find_run(uow, organization_id, run_id, lock=True)
            cancelled = run.cancel(self._clock.now())
            if not await uow.runs.save(cancelled, attempt=run.attempt, status=run.status):
                raise ConcurrentUpdate(f"run {run_id} changed meanwhile; try again")
            await uow.commit()
        if cancelled.status.finished:  # a queued run ends here; a running one at its batch
            self._metrics.run_ended_unattempted(cancelled)
        return cancelled
