"""The lean app's request and response bodies: the service's JSON, built straight from rows.

Written out here rather than imported from the service, so that the yardstick
stays fixed while the service changes (``benchmarks.api_speed`` checks that
both answer the same JSON for the same resource).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from cronsim import CronSim, CronSimError

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TableName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
]
ColumnName = Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
ModeName = Literal["full_refresh", "incremental"]


class StreamSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    destination: TableName
    mode: ModeName
    cursor_field: ColumnName | None = None
    primary_key: Annotated[list[ColumnName], msgspec.Meta(max_length=32)] | None = None


class ScheduleSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    every_seconds: Annotated[int, msgspec.Meta(ge=60, le=366 * 86400)] | None = None
    cron: Annotated[str, msgspec.Meta(min_length=9, max_length=200)] | None = None


class CreatePipelineRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    source_id: UUID
    destination_id: UUID
    streams: Annotated[list[StreamSpec], msgspec.Meta(min_length=1, max_length=500)]
    schedule: ScheduleSpec | None = None
    enabled: bool = True


class StreamOut(msgspec.Struct, frozen=True):
    name: str
    destination: str
    mode: str
    cursor_field: str | None
    primary_key: list[str]


class ScheduleOut(msgspec.Struct, frozen=True, omit_defaults=True):
    every_seconds: int | None = None
    cron: str | None = None


class PipelineBody(msgspec.Struct, frozen=True):
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
    items: list[PipelineBody]
    next_cursor: str | None


class StreamStatsOut(msgspec.Struct, frozen=True):
    rows_read: int
    rows_written: int
    estimate: int | None


class RunStatsOut(msgspec.Struct, frozen=True):
    rows_read: int
    rows_written: int
    streams: dict[str, StreamStatsOut]


class RunErrorOut(msgspec.Struct, frozen=True):
    type: str
    message: str
    retryable: bool


class AttemptOut(msgspec.Struct, frozen=True):
    number: int
    started_at: datetime | None
    ended_at: datetime
    outcome: str
    error: RunErrorOut | None
    stats: RunStatsOut


class RunBody(msgspec.Struct, frozen=True):
    id: UUID
    pipeline_id: UUID
    status: str
    trigger: str
    attempt: int
    max_attempts: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    not_before: datetime | None
    scheduled_for: datetime | None
    cancel_requested: bool
    stats: RunStatsOut
    error: RunErrorOut | None
    attempts: list[AttemptOut]


class RunPage(msgspec.Struct, frozen=True):
    items: list[RunBody]
    next_cursor: str | None


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _stamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def next_due(schedule: Mapping[str, Any], now: datetime) -> datetime | None:
    """The schedule's next due time after ``now``, as the service computes it."""
    if "every_seconds" in schedule:
        return now + timedelta(seconds=int(schedule["every_seconds"]))
    try:
        return next(CronSim(str(schedule["cron"]), now))
    except StopIteration:
        return None


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is refused, or ``None``."""
    if len(expression.split()) != 5:
        return "must have 5 fields"
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as e:
        return f"not a cron expression: {e}"
    return None


def pipeline_body(row: Sequence[Any], now: datetime) -> PipelineBody:
    """A ``pipelines`` row (the service's column order) as the API shows it."""
    (id_, _org, name, source, destination, streams, schedule, enabled, state) = row[:9]
    due = next_due(schedule, now) if schedule is not None and enabled else None
    return PipelineBody(
        id=id_,
        name=name,
        source_id=source,
        destination_id=destination,
        streams=[
            StreamOut(
                s["name"],
                s["destination"],
                s["mode"],
                s.get("cursor_field"),
                list(s.get("primary_key") or ()),
            )
            for s in streams
        ],
        schedule=ScheduleOut(schedule.get("every_seconds"), schedule.get("cron"))
        if schedule is not None
        else None,
        enabled=enabled,
        state=state,
        next_run_at=_utc(due),
        created_at=row[9].astimezone(UTC),
        updated_at=row[10].astimezone(UTC),
    )


def _stats(streams: Mapping[str, Any]) -> RunStatsOut:
    return RunStatsOut(
        rows_read=sum(s["rows_read"] for s in streams.values()),
        rows_written=sum(s["rows_written"] for s in streams.values()),
        streams={
            name: StreamStatsOut(s["rows_read"], s["rows_written"], s.get("estimate"))
            for name, s in sorted(streams.items())
        },
    )


def _error(error: Mapping[str, Any] | None) -> RunErrorOut | None:
    return (
        None if error is None else RunErrorOut(error["type"], error["message"], error["retryable"])
    )


def run_body(row: Sequence[Any]) -> RunBody:
    """A ``runs`` row (the service's column order) as the API shows it."""
    (id_, _org, pipeline, trigger, max_attempts, queued_at, scheduled_for, status) = row[:8]
    (attempt, not_before, started, finished) = row[8:12]
    (cancel, streams, error, attempts) = row[15:]
    return RunBody(
        id=id_,
        pipeline_id=pipeline,
        status=status,
        trigger=trigger,
        attempt=attempt,
        max_attempts=max_attempts,
        queued_at=queued_at.astimezone(UTC),
        started_at=_utc(started),
        finished_at=_utc(finished),
        not_before=_utc(not_before),
        scheduled_for=_utc(scheduled_for),
        cancel_requested=cancel,
        stats=_stats(streams),
        error=_error(error),
        attempts=[
            AttemptOut(
                number=a["number"],
                started_at=_stamp(a["started_at"]),
                ended_at=datetime.fromisoformat(a["ended_at"]).astimezone(UTC),
                outcome=a["outcome"],
                error=_error(a["error"]),
                stats=_stats(a["streams"]),
            )
            for a in attempts
        ],
    )
