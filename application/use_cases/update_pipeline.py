"""Changing a pipeline's definition; its state stays the runs' business."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.application.use_cases.get_pipeline import find_pipeline
from thedata.application.use_cases.pipeline_rules import check_endpoints
from thedata.domain.access import Action
from thedata.domain.pipelines import Pipeline, Stream, check_streams
from thedata.domain.principal import Principal
from thedata.domain.schedules import Schedule, check_schedule
from thedata.domain.users import check_display_name


class Keep(enum.Enum):
    """Marks a field the change leaves as it is (``None`` is a value for ``schedule``)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@frozen
class PipelineChanges:
    """Fields to change; ``KEEP`` leaves one as it is, ``schedule=None`` unschedules."""

    name: str | Keep = KEEP
    source_id: UUID | Keep = KEEP
    destination_id: UUID | Keep = KEEP
    streams: Sequence[Stream] | Keep = KEEP
    schedule: Schedule | Keep | None = KEEP
    enabled: bool | Keep = KEEP


class UpdatePipeline:
    """Apply the changes, checked as on create (members)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        pipeline_id: UUID,
        changes: PipelineChanges,
    ) -> Pipeline:
        """The updated pipeline."""
        authorize(principal, organization_id, Action.WRITE)
        async with self._uow() as uow:
            # locked: two concurrent changes apply one after the other, never interleaved
            pipeline = await find_pipeline(uow, organization_id, pipeline_id, lock=True)
            if not isinstance(changes.name, Keep):
                pipeline.name = check_display_name(changes.name)
            if not isinstance(changes.streams, Keep):
                pipeline.streams = check_streams(changes.streams)
            if not isinstance(changes.schedule, Keep):
                pipeline.schedule = check_schedule(changes.schedule)
            if not isinstance(changes.enabled, Keep):
                pipeline.enabled = changes.enabled
            if not isinstance(changes.source_id, Keep):
                pipeline.source_id = changes.source_id
            if not isinstance(changes.destination_id, Keep):
                pipeline.destination_id = changes.destination_id
            await check_endpoints(
                uow, organization_id, pipeline.source_id, pipeline.destination_id, pipeline.streams
            )
            pipeline.updated_at = self._clock.now()
            await uow.pipelines.update(pipeline)
            await uow.commit()
        return pipeline
