"""One pipeline, and the organization's pipelines."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWork, UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.pipelines import Pipeline, PipelineNotFound
from thedata.domain.principal import Principal


async def find_pipeline(
    uow: UnitOfWork, organization_id: UUID, pipeline_id: UUID, *, lock: bool = False
) -> Pipeline:
    """The organization's pipeline (held against concurrent changes with ``lock``);
    ``PipelineNotFound`` otherwise."""
    pipeline = await uow.pipelines.get(organization_id, pipeline_id, lock=lock)
    if pipeline is None:
        raise PipelineNotFound(f"pipeline {pipeline_id} not found")
    return pipeline


class GetPipeline:
    """Read a pipeline with its state (any member)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, pipeline_id: UUID
    ) -> Pipeline:
        """The pipeline."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await find_pipeline(uow, organization_id, pipeline_id)


class ListPipelines:
    """A page of the organization's pipelines (any member)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, page: PageRequest
    ) -> Page[Pipeline]:
        """The pipelines in id order."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await uow.pipelines.list(organization_id, page)
