"""Bodies of pipelines: streams, schedule, state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType

from thedata.domain.errors import FieldError, InvalidInput
from thedata.domain.pipelines import Pipeline, Stream, StreamMode
from thedata.domain.schedules import Cron, EverySeconds, Schedule, next_due
from thedata.entrypoints.http.openapi_structs import NO_NUL
from thedata.entrypoints.http.schemas.common import Name, Request, utc

# Table or file names: no path separators, no leading dot.
TableName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
]
MAX_COLUMN_NAME = 63
MAX_KEY_COLUMNS = 32
ColumnName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_COLUMN_NAME)]
ModeName = Literal["full_refresh", "incremental"]
INTEGER, STRING = OpenAPIType.INTEGER, OpenAPIType.STRING


def _stream_rules(schema: Schema) -> None:
    # an incremental stream needs its cursor column
    schema.schema_if = Schema(properties={"mode": Schema(const="incremental")}, required=["mode"])
    schema.then = Schema(
        required=["cursor_field"], properties={"cursor_field": Schema(type=STRING)}
    )
    # Litestar drops the constraints of a list's items inside a union; a column named twice
    # is refused
    column = Schema(type=STRING, min_length=1, max_length=MAX_COLUMN_NAME, pattern=NO_NUL)
    columns = Schema(
        type=OpenAPIType.ARRAY, items=column, max_items=MAX_KEY_COLUMNS, unique_items=True
    )
    schema.properties = dict(schema.properties or {})
    schema.properties["primary_key"] = Schema(one_of=[columns, Schema(type=OpenAPIType.NULL)])


def _exactly_one_kind(schema: Schema) -> None:
    # a field left out and a field that is null are both "not given"
    schema.one_of = [
        Schema(required=[given], properties={given: Schema(type=kind)})
        for given, kind in (("every_seconds", INTEGER), ("cron", STRING))
    ]


class StreamSpec(Request):
    """A stream and where it goes; ``incremental`` needs ``cursor_field``."""

    __openapi_refine__ = _stream_rules

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    destination: TableName
    mode: ModeName
    cursor_field: ColumnName | None = None
    primary_key: Annotated[list[ColumnName], msgspec.Meta(max_length=MAX_KEY_COLUMNS)] | None = None


class ScheduleSpec(Request, omit_defaults=True):
    """Exactly one of ``every_seconds`` (at least 60) and a 5-field ``cron`` expression (UTC)."""

    __openapi_refine__ = _exactly_one_kind

    every_seconds: Annotated[int, msgspec.Meta(ge=60, le=366 * 86400)] | None = None
    cron: Annotated[str, msgspec.Meta(min_length=9, max_length=200)] | None = None


class CreatePipelineRequest(Request):
    """A new pipeline."""

    name: Name
    source_id: UUID
    destination_id: UUID
    streams: Annotated[list[StreamSpec], msgspec.Meta(min_length=1, max_length=500)]
    schedule: ScheduleSpec | None = None
    enabled: bool = True


class UpdatePipelineRequest(Request):
    """Changes to a pipeline; ``"schedule": null`` unschedules it."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    source_id: UUID | msgspec.UnsetType = msgspec.UNSET
    destination_id: UUID | msgspec.UnsetType = msgspec.UNSET
    streams: (
        Annotated[list[StreamSpec], msgspec.Meta(min_length=1, max_length=500)] | msgspec.UnsetType
    ) = msgspec.UNSET
    schedule: ScheduleSpec | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class StreamOut(msgspec.Struct, frozen=True):
    """A stream of a pipeline."""

    name: str
    destination: str
    mode: ModeName
    cursor_field: str | None
    primary_key: list[str]


class ScheduleOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """``{"every_seconds": N}`` or ``{"cron": "..."}``."""

    every_seconds: int | None = None
    cron: str | None = None


class PipelineBody(msgspec.Struct, frozen=True):
    """A pipeline; ``state`` holds each stream's cursor, ``next_run_at`` its next due time."""

    id: UUID
    name: str
    source_id: UUID
    destination_id: UUID
    streams: list[StreamOut]
    schedule: ScheduleOut | None
    enabled: bool
    state: dict[str, Any]
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PipelinePage(msgspec.Struct, frozen=True):
    """A page of pipelines."""

    items: list[PipelineBody]
    next_cursor: str | None


def stream_of(spec: StreamSpec) -> Stream:
    """The domain's stream for a request's."""
    return Stream(
        spec.name,
        spec.destination,
        StreamMode(spec.mode),
        spec.cursor_field,
        tuple(spec.primary_key or ()),
    )


def schedule_of(spec: ScheduleSpec | None) -> Schedule | None:
    """The domain's schedule for a request's; exactly one of its fields must be set."""
    if spec is None:
        return None
    if (spec.every_seconds is None) == (spec.cron is None):
        error = FieldError("/schedule", "give exactly one of every_seconds and cron")
        raise InvalidInput("the schedule is invalid", [error])
    if spec.every_seconds is not None:
        return EverySeconds(spec.every_seconds)
    return Cron(str(spec.cron))


def pipeline_body(pipeline: Pipeline, now: datetime) -> PipelineBody:
    """The public view of a pipeline; ``now`` places its next due time."""
    schedule = pipeline.schedule
    due = next_due(schedule, now) if schedule is not None and pipeline.enabled else None
    return PipelineBody(
        id=pipeline.id,
        name=pipeline.name,
        source_id=pipeline.source_id,
        destination_id=pipeline.destination_id,
        streams=[
            StreamOut(s.name, s.destination, s.mode.value, s.cursor_field, list(s.primary_key))
            for s in pipeline.streams
        ],
        schedule=ScheduleOut(
            every_seconds=schedule.seconds if isinstance(schedule, EverySeconds) else None,
            cron=schedule.expression if isinstance(schedule, Cron) else None,
        )
        if schedule is not None
        else None,
        enabled=pipeline.enabled,
        state=dict(pipeline.state),
        next_run_at=utc(due) if due else None,
        created_at=utc(pipeline.created_at),
        updated_at=utc(pipeline.updated_at),
    )
