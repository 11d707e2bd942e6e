"""Queue a failed or cancelled run again, as a new run (``thedata runs retry ID``).

An operator's tool, not an organization member's: it finds the run by its id in any
organization and acts for nobody (the API's ``POST …/runs`` is the members' way). The new
run has the trigger ``retry`` and starts from what the destination committed, as every run
does; the old one stays as it ended, for the record.
"""

from __future__ import annotations

from uuid import UUID

from thedata.application.errors import ReferenceConflict
from thedata.application.ports import Clock, IdFactory, NoRunMetrics, RunMetrics, UnitOfWorkFactory
from thedata.domain.pipelines import PipelineNotFound
from thedata.domain.runs import Run, RunNotFound, RunNotRetryable, RunStatus, RunTrigger

_RETRYABLE = (RunStatus.FAILED, RunStatus.CANCELLED)


class RetryRun:
    """The new queued run. ``RunNotFound``; ``RunNotRetryable`` for a run queued, running or
    succeeded; ``RunAlreadyActive`` while another run of its pipeline is queued or running;
    ``PipelineNotFound`` when the pipeline was deleted since."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        max_attempts: int,
        metrics: RunMetrics | None = None,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._max_attempts = max_attempts
        self._metrics = metrics or NoRunMetrics()

    async def __call__(self, run_id: UUID) -> Run:
        async with self._uow() as uow:
            old = await uow.runs.find_in_any_organization(run_id)
            if old is None:
                raise RunNotFound(f"run {run_id} not found")
            if old.status not in _RETRYABLE:
                raise RunNotRetryable(_why_not(old))
            run = Run.queued(
                self._ids.new_id(),
                old.organization_id,
                old.pipeline_id,
                RunTrigger.RETRY,
                self._clock.now(),
                self._max_attempts,
            )
            try:
                await uow.runs.add(run)
            except ReferenceConflict:
                raise PipelineNotFound(f"pipeline {old.pipeline_id} was deleted") from None
            await uow.commit()
        self._metrics.run_queued(run.trigger.value)
        return run


def _why_not(run: Run) -> str:
    if run.status is RunStatus.SUCCEEDED:
        return f"run {run.id} succeeded: nothing to retry (trigger its pipeline to run it again)"
    return (
        f"run {run.id} is {run.status.value}: a worker moves it (see `thedata runs list"
        " --stuck` if none does)"
    )
