"""A new pipeline between two of the organization's data sources."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import Clock, IdFactory, UnitOfWorkFactory
from thedata.application.use_cases.pipeline_rules import check_endpoints
from thedata.domain.access import Action
from thedata.domain.pipelines import Pipeline, Stream, check_streams
from thedata.domain.principal import Principal
from thedata.domain.schedules import Schedule, check_schedule
from thedata.domain.users import check_display_name


@frozen
class NewPipeline:
    """What a pipeline moves, from where to where, and when."""

    name: str
    source_id: UUID
    destination_id: UUID
    streams: Sequence[Stream]
    schedule: Schedule | None = None
    enabled: bool = True


class CreatePipeline:
    """Create a pipeline after checking its streams, schedule and data sources (members)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory, policy: IdentityPolicy
    ) -> None:
        self._uow, self._clock, self._ids, self._policy = uow, clock, ids, policy

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        command: NewPipeline,
        idempotency: IdempotentRequest[Pipeline] | None = None,
    ) -> Pipeline:
        """The new pipeline, with an empty state."""
        authorize(principal, organization_id, Action.WRITE)
        name = check_display_name(command.name)
        streams = check_streams(command.streams)
        schedule = check_schedule(command.schedule)
        now = self._clock.now()
        pipeline = Pipeline(
            id=self._ids.new_id(),
            organization_id=organization_id,
            name=name,
            source_id=command.source_id,
            destination_id=command.destination_id,
            streams=streams,
            schedule=schedule,
            enabled=command.enabled,
            state={},
            created_at=now,
            updated_at=now,
        )
        ttl = self._policy.idempotency_ttl
        created = creating(self._uow, principal.scope, idempotency, now, ttl, one_change=True)
        async with created as (uow, commit):
            await check_endpoints(
                uow, organization_id, command.source_id, command.destination_id, streams
            )
            await uow.pipelines.add(pipeline)
            await commit(pipeline)
        return pipeline
