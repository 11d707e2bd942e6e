"""Pipelines: which streams go from a source to a destination, how and when."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import define, frozen

from thedata.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from thedata.domain.schedules import Schedule

MAX_STREAMS = 500


class StreamMode(enum.Enum):
    """How a stream reaches its destination."""

    FULL_REFRESH = "full_refresh"
    """Replace the destination table with the source's rows, atomically."""
    INCREMENTAL = "incremental"
    """Rows past the stored cursor: upserted with a primary key, else appended."""


@frozen
class Stream:
    """One source stream and the destination table it fills."""

    name: str
    destination: str
    mode: StreamMode
    cursor_field: str | None = None
    primary_key: tuple[str, ...] = ()


def check_streams(streams: Sequence[Stream], *, field: str = "/streams") -> tuple[Stream, ...]:
    """Streams that can run: at least one, unique destinations, incremental ones with a cursor."""
    errors: list[FieldError] = []
    if not streams:
        errors.append(FieldError(field, "at least one stream is needed"))
    if len(streams) > MAX_STREAMS:
        errors.append(FieldError(field, f"at most {MAX_STREAMS} streams"))
    seen: dict[str, int] = {}
    for index, stream in enumerate(streams):
        where = f"{field}/{index}"
        if stream.destination in seen:
            message = f"the same destination as stream {seen[stream.destination]}"
            errors.append(FieldError(f"{where}/destination", message))
        seen.setdefault(stream.destination, index)
        if stream.mode is StreamMode.INCREMENTAL and not stream.cursor_field:
            errors.append(FieldError(f"{where}/cursor_field", "an incremental stream needs one"))
        if len(set(stream.primary_key)) != len(stream.primary_key):
            errors.append(FieldError(f"{where}/primary_key", "names a column twice"))
    if errors:
        raise InvalidInput("the streams are invalid", errors)
    return tuple(streams)


@define
class Pipeline:
    """A pipeline; ``state`` holds each stream's cursor and is changed by runs only."""

    id: UUID
    organization_id: UUID
    name: str
    source_id: UUID
    destination_id: UUID
    streams: tuple[Stream, ...]
    schedule: Schedule | None
    enabled: bool
    state: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


class PipelineNotFound(NotFound):
    """No such pipeline in the organization."""

    code = "pipeline_not_found"


class PipelineNameTaken(Conflict):
    """Another pipeline of the organization has this name."""

    code = "pipeline_name_taken"
