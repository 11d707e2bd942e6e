"""Deleting a pipeline and its state."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.application.use_cases.get_pipeline import find_pipeline
from thedata.domain.access import Action
from thedata.domain.principal import Principal


class DeletePipeline:
    """Delete a pipeline; its per-stream cursors go with it (members)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, pipeline_id: UUID
    ) -> None:
        """Delete it; ``PipelineNotFound`` if the organization has no such pipeline."""
        authorize(principal, organization_id, Action.WRITE)
        async with self._uow() as uow:
            await find_pipeline(uow, organization_id, pipeline_id)
            await uow.pipelines.delete(organization_id, pipeline_id)
            await uow.commit()
