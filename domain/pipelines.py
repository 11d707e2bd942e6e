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
RESERVED_PREFIX = "_thedata_"
"""Destination names the engine keeps for itself (its state table, its staging tables)."""


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
    """Streams that can run: at least one, unique names and destinations, a cursor if incremental.

    A stream's state is kept under its name, so two of one name would share a
    cursor; two streams writing one destination would overwrite each other.
    """
    errors: list[FieldError] = []
    if not streams:
        errors.append(FieldError(field, "at least one stream is needed"))
    if len(streams) > MAX_STREAMS:
        errors.append(FieldError(field, f"at most {MAX_STREAMS} streams"))
    names: dict[str, int] = {}
    destinations: dict[str, int] = {}
    for index, stream in enumerate(streams):
        where = f"{field}/{index}"
        if stream.name in names:
            message = f"the same name as stream {names[stream.name]}"
            errors.append(FieldError(f"{where}/name", message))
        names.setdefault(stream.name, index)
        if stream.destination in destinations:
            message = f"the same destination as stream {destinations[stream.destination]}"
            errors.append(FieldError(f"{where}/destination", message))
        destinations.setdefault(stream.destination, index)
        if stream.destination.lower().startswith(RESERVED_PREFIX):
            message = f"names starting with {RESERVED_PREFIX!r} are the engine's own"
            errors.append(FieldError(f"{where}/destination", message))
        if stream.mode is StreamMode.INCREMENTAL and not stream.cursor_field:
            errors.append(FieldError(f"{where}/cursor_field", "an incremental stream needs one"))
        if len(set(stream.primary_key)) != len(stream.primary_key):
            errors.append(FieldError(f"{where}/primary_key", "names a column twice"))
    if errors:
        raise InvalidInput("the streams are invalid", errors)
    return tuple(streams)


def check_loopback(source_id: UUID, destination_id: UUID, streams: Sequence[Stream]) -> None:
    """A pipeline writing back into its own source writes no table that one of its streams reads.

    Source and destination being one data source is allowed (copying a table
    to a new one), but a destination named like a stream would be read and
    written in the same run: by that stream itself, or behind another's back.
    """
    if source_id != destination_id:
        return
    read = {stream.name: index for index, stream in enumerate(streams)}
    errors = []
    for index, stream in enumerate(streams):
        reader = read.get(stream.destination)
        if reader is None:
            continue
        whose = "its own source table" if reader == index else f"the table stream {reader} reads"
        message = f"{whose}, in the same data source: choose another destination"
        errors.append(FieldError(f"/streams/{index}/destination", message))
    if errors:
        raise InvalidInput("the pipeline would write a table it reads", errors)


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
    last_scheduled_for: datetime | None = None
    """The latest due time the scheduler has dealt with (queued a run for, or passed over
    while a run was active); the next due time is counted from it, or from ``created_at``
    before the first. Changed by the scheduler only."""


class PipelineNotFound(NotFound):
    """No such pipeline in the organization."""

    code = "pipeline_not_found"


class PipelineNameTaken(Conflict):
    """Another pipeline of the organization has this name."""

    code = "pipeline_name_taken"
