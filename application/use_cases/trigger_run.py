"""Queue a run of a pipeline (members and up; viewers may not)."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.errors import ReferenceConflict
from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import Clock, IdFactory, UnitOfWorkFactory
from thedata.application.ports.metrics import NoRunMetrics, RunMetrics
from thedata.domain.access import Action
from thedata.domain.pipelines import PipelineNotFound
from thedata.domain.principal import Principal
from thedata.domain.runs import Run, RunTrigger


class TriggerRun:
    """A queued run, written in the same transaction as its idempotency record, so a retried
    trigger returns the first run and a rolled-back one leaves nothing queued.
    ``RunAlreadyActive`` while the pipeline has a queued or running run."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        policy: IdentityPolicy,
        max_attempts: int,
        metrics: RunMetrics | None = None,
    ) -> None:
        self._uow, self._clock, self._ids, self._policy = uow, clock, ids, policy
        self._max_attempts = max_attempts
        self._metrics = metrics or NoRunMetrics()

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        pipeline_id: UUID,
        idempotency: IdempotentRequest[Run] | None = None,
        trigger: RunTrigger = RunTrigger.MANUAL,
        trace_parent: str | None = None,
    ) -> Run:
        """The queued run (``trace_parent``: the trace of the request queuing it, if traced)."""
        authorize(principal, organization_id, Action.WRITE)
        now = self._clock.now()
        run = Run.queued(
            self._ids.new_id(),
            organization_id,
            pipeline_id,
            trigger,
            now,
            self._max_attempts,
            trace_parent=trace_parent,
        )
        ttl = self._policy.idempotency_ttl
        created = creating(self._uow, principal.scope, idempotency, now, ttl, one_change=True)
        async with created as (uow, commit):
            try:
                await uow.runs.add(run)
            except ReferenceConflict:
                # the run refers to the organization's pipeline by its key: there is none
                # (or it is another organization's); no lookup before, one round trip less
                raise PipelineNotFound(f"pipeline {pipeline_id} not found") from None
            await commit(run)
        self._metrics.run_queued(run.trigger.value)
        return run
