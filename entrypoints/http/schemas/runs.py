"""Bodies of runs: status, attempts, progress and error, as API.md gives them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from thedata.domain.runs import (
    Run,
    RunError,
    StreamStats,
)
from thedata.entrypoints.http.schemas.common import utc

StatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]
OutcomeName = Literal[
    "succeeded", "failed", "lease_expired", "handed_back", "deferred", "cancelled"
]
TriggerName = Literal["manual", "schedule", "retry"]


class StreamStatsOut(msgspec.Struct, frozen=True):
    """One stream's figures so far; ``estimate`` is the source's guess of its rows."""

    rows_read: int
    rows_written: int
    estimate: int | None


class RunStatsOut(msgspec.Struct, frozen=True):
    """The run's figures, in all and per stream."""

    rows_read: int
    rows_written: int
    streams: dict[str, StreamStatsOut]


class RunErrorOut(msgspec.Struct, frozen=True):
    """Why the run (or its last attempt) failed; never a secret."""

    type: str
    message: str
    retryable: bool


class AttemptOut(msgspec.Struct, frozen=True):
    """One attempt that ended: when, how (``handed_back`` and ``deferred`` spent no
    attempt: the next one has the same number), why, and the figures it reached."""

    number: int
    started_at: datetime | None
    ended_at: datetime
    outcome: OutcomeName
    error: RunErrorOut | None
    stats: RunStatsOut


class RunBody(msgspec.Struct, frozen=True):
    """A run. ``not_before``: a queued run waits until then (a retry's backoff, or a data
    source's open circuit); ``scheduled_for``: the due time a scheduled run was queued for;
    ``cancel_requested``: a running run was asked to stop at its next batch; ``stats``: the
    current (or last) attempt's figures; ``attempts``: every attempt that ended, oldest first
    (the latest 20), each with its own."""

    id: UUID
    pipeline_id: UUID
    status: StatusName
    trigger: TriggerName
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
    """A page of runs, newest first."""

    items: list[RunBody]
    next_cursor: str | None


def _moment(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def run_body(run: Run) -> RunBody:
    """The API's body of a run.

    Enum members are named by their ``_value_`` (the enum module's own attribute): ``.value``
    is a property, and a dictionary of names hashes the member in Python, a call either
    way, some 150 for a list of 50 runs.
    """
    return RunBody(
        id=run.id,
        pipeline_id=run.pipeline_id,
        status=run.status._value_,
        trigger=run.trigger._value_,
        attempt=run.attempt,
        max_attempts=run.max_attempts,
        queued_at=utc(run.queued_at),
        started_at=_moment(run.started_at),
        finished_at=_moment(run.finished_at),
        not_before=_moment(run.not_before),
        scheduled_for=_moment(run.scheduled_for),
        cancel_requested=run.cancel_requested,
        stats=_stats(run.streams),
        error=_error(run.error),
        attempts=[
            AttemptOut(
                number=a.number,
                started_at=_moment(a.started_at),
                ended_at=utc(a.ended_at),
                outcome=a.outcome._value_,
                error=_error(a.error),
                stats=_stats(a.streams),
            )
            for a in run.attempts
        ],
    )


def _stats(streams: Mapping[str, StreamStats]) -> RunStatsOut:
    # one pass (a list of 50 runs makes a few hundred of these)
    if not streams:  # a queued run's
        return RunStatsOut(0, 0, {})
    rows_read = rows_written = 0
    each = {}
    for name in sorted(streams):
        s = streams[name]
        rows_read += s.rows_read
        rows_written += s.rows_written
        each[name] = StreamStatsOut(s.rows_read, s.rows_written, s.estimate)
    return RunStatsOut(rows_read, rows_written, each)


def _error(error: RunError | None) -> RunErrorOut | None:
    return None if error is None else RunErrorOut(error.type, error.message, error.retryable)
