"""One run, and pages of an organization's or a pipeline's runs (any member)."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWork, UnitOfWorkFactory
from thedata.application.use_cases.get_pipeline import find_pipeline
from thedata.domain.access import Action
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal
from thedata.domain.runs import Run, RunNotFound, RunStatus


async def find_run(
    uow: UnitOfWork, organization_id: UUID, run_id: UUID, *, lock: bool = False
) -> Run:
    """The organization's run (held with ``lock``); ``RunNotFound`` otherwise."""
    run = await uow.runs.get(organization_id, run_id, lock=lock)
    if run is None:
        raise RunNotFound(f"run {run_id} not found")
    return run


class GetRun:
    """Read a run: its status, attempts, progress and error."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID, run_id: UUID) -> Run:
        """The run."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await find_run(uow, organization_id, run_id)


class ListRuns:
    """A page of runs, newest first: the organization's, or one pipeline's (``PipelineNotFound``
    if it has none such), optionally of one status."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        page: PageRequest,
        *,
        pipeline_id: UUID | None = None,
        status: RunStatus | None = None,
    ) -> Page[Run]:
        """The runs."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            if pipeline_id is not None:
                await find_pipeline(uow, organization_id, pipeline_id)
            return await uow.runs.list(
                organization_id, page, pipeline_id=pipeline_id, status=status
            )
