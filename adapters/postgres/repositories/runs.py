"""Runs in PostgreSQL: the run queue and the runs the API shows, one table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import errors
from psycopg.types.json import Jsonb

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.adapters.postgres.run_arrivals import CHANNEL
from thedata.application.errors import ReferenceConflict
from thedata.application.ports.runs import RunBacklog
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.runs import (
    AttemptOutcome,
    AttemptRecord,
    Run,
    RunAlreadyActive,
    RunError,
    RunStatus,
    RunTrigger,
    StreamStats,
)

# the fixed columns first, then what a run's life changes, in the order _changes gives them
_SELECT = (
    "SELECT id, organization_id, pipeline_id, trigger, max_attempts, queued_at, scheduled_for,"
    " status, attempt, not_before, started_at, finished_at, worker_id, lease_expires_at, epoch,"
    " cancel_requested, streams::text, error::text, attempts::text, trace_parent FROM runs"
)
_COLUMNS = (
    "INSERT INTO runs (id, organization_id, pipeline_id, trigger, max_attempts, queued_at,"
    " scheduled_for, status, attempt, not_before, started_at, finished_at, worker_id,"
    " lease_expires_at, epoch, cancel_requested, streams, error, attempts, trace_parent)"
)
_VALUES = "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
_INSERT_ROW = f"{_COLUMNS} VALUES ({_VALUES})"


def _announced(insert: str) -> str:
    """``insert``, telling idle workers in the same statement (no round trip more) and the
    same transaction: the word goes out on commit, and only if a run was inserted."""
    return f"WITH queued AS ({insert} RETURNING 1) SELECT pg_notify('{CHANNEL}', '') FROM queued"  # noqa: S608 - constants


_INSERT = _announced(
    # only for a pipeline of the run's own organization: another's id yields no row at all,
    # so it never reaches the one-active-run index below (whose answer, or wait on another
    # organization's trigger, would tell that a pipeline of theirs exists and is busy)
    f"{_COLUMNS} SELECT {_VALUES}"  # noqa: S608 - constants
    " WHERE EXISTS (SELECT FROM pipelines WHERE organization_id = %s AND id = %s)"
    # the partial unique index is the arbiter: a pipeline's second active run inserts nothing
    # (a concurrent one waits for the first to commit or roll back) and the transaction
    # stays usable, so the caller can still record its answer
    + " ON CONFLICT (pipeline_id) WHERE status IN ('queued', 'running') DO NOTHING"
)
_INSERT_SCHEDULED = _announced(
    _INSERT_ROW
    # no arbiter named: both the one-active-run index and the one-run-per-due-time index
    # are arbiters (the primary key too, which a fresh id never hits), and either conflict
    # inserts nothing (waiting, as above, for an uncommitted conflicting run to commit or
    # roll back)
    + " ON CONFLICT DO NOTHING"
)
_UPDATE = (
    "UPDATE runs SET status = %s, attempt = %s, not_before = %s, started_at = %s,"
    " finished_at = %s, worker_id = %s, lease_expires_at = %s, epoch = %s,"
    # a cancel request is never withdrawn: a worker saving progress from the copy it read
    # before the request (same attempt, same status: the compare-and-set lets it through)
    # must not undo it
    " cancel_requested = cancel_requested OR %s, streams = %s, error = %s,"
    # the history changes only when an attempt ends (the status with it): left as stored
    # otherwise (NULL here), so a heartbeat does not write it again
    " attempts = COALESCE(%s, attempts)"
    " WHERE organization_id = %s AND id = %s AND attempt = %s AND status = %s"
)


def _streams_json(streams: Mapping[str, StreamStats]) -> dict[str, Any]:
    return {
        name: {"rows_read": s.rows_read, "rows_written": s.rows_written, "estimate": s.estimate}
        for name, s in streams.items()
    }


def _error_json(error: RunError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "retryable": error.retryable}


def _stats(streams: Mapping[str, Any]) -> dict[str, StreamStats]:
    return {
        name: StreamStats(s["rows_read"], s["rows_written"], s.get("estimate"))
        for name, s in streams.items()
    }


def _error(error: Mapping[str, Any] | None) -> RunError | None:
    return RunError(error["type"], error["message"], error["retryable"]) if error else None


def _stamp(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _attempts_json(attempts: Sequence[AttemptRecord]) -> list[dict[str, Any]]:
    return [
        {
            "number": a.number,
            "worker_id": a.worker_id,
            "started_at": _stamp(a.started_at),
            "ended_at": _stamp(a.ended_at),
            "outcome": a.outcome.value,
            "error": _error_json(a.error),
            "streams": _streams_json(a.streams),
        }
        for a in attempts
    ]


# stored values to members, by dictionary: a list of 50 runs read hundreds of them, and
# building the set of known outcomes (or calling the enum) each time was a tenth of its cost
_OUTCOMES = {outcome.value: outcome for outcome in AttemptOutcome}
_STATUSES = {status.value: status for status in RunStatus}
_TRIGGERS = {trigger.value: trigger for trigger in RunTrigger}


def _attempts(attempts: Sequence[Mapping[str, Any]]) -> tuple[AttemptRecord, ...]:
    # an outcome a newer version wrote (during a rolling upgrade) is left out, not a failure
    return tuple(
        AttemptRecord(
            number=a["number"],
            worker_id=a["worker_id"],
            started_at=datetime.fromisoformat(a["started_at"]) if a["started_at"] else None,
            ended_at=datetime.fromisoformat(a["ended_at"]),
            outcome=_OUTCOMES[a["outcome"]],
            error=_error(a["error"]),
            streams=_stats(a["streams"]),
        )
        for a in attempts
        if a["outcome"] in _OUTCOMES
    )


def _changes(run: Run) -> tuple[Any, ...]:
    error = _error_json(run.error)
    return (
        run.status.value,
        run.attempt,
        run.not_before,
        run.started_at,
        run.finished_at,
        run.worker_id,
        run.lease_expires_at,
        run.epoch,
        run.cancel_requested,
        Jsonb(_streams_json(run.streams)),
        Jsonb(error) if error is not None else None,
        Jsonb(_attempts_json(run.attempts)),
    )


# The json columns are read as text and decoded straight into the domain's types by msgspec:
# a list of 50 runs holds a few hundred of their objects, and building them from decoded
# dictionaries in Python was a fifth of the list's cost. What those decoders refuse (an
# outcome a newer version wrote, a number beyond 64 bits) takes the general path.
_STREAMS = msgspec.json.Decoder(dict[str, StreamStats])
_ERROR = msgspec.json.Decoder(RunError | None)
_ATTEMPTS = msgspec.json.Decoder(list[AttemptRecord])


def _decoded_json(
    streams: str, error: str | None, attempts: str
) -> tuple[dict[str, StreamStats], RunError | None, tuple[AttemptRecord, ...]]:
    try:
        return (
            # a queued run's: no decoder called for them (a list of queued runs is mostly these)
            {} if streams == "{}" else _STREAMS.decode(streams),
            _ERROR.decode(error) if error is not None else None,
            () if attempts == "[]" else tuple(_ATTEMPTS.decode(attempts)),
        )
    except (msgspec.ValidationError, msgspec.DecodeError):
        return (
            _stats(json.loads(streams)),
            _error(json.loads(error) if error is not None else None),
            _attempts(json.loads(attempts)),
        )


def _run(row: tuple[Any, ...]) -> Run:
    (id_, org, pipeline, trigger, max_attempts, queued_at, scheduled_for) = row[:7]
    (status, attempt, not_before, started, finished, worker, lease, epoch) = row[7:15]
    streams, error, attempts = _decoded_json(*row[16:19])
    cancel = row[15]
    return Run(
        id=id_,
        organization_id=org,
        pipeline_id=pipeline,
        trigger=_TRIGGERS[trigger],
        queued_at=queued_at,
        max_attempts=max_attempts,
        status=_STATUSES[status],
        attempt=attempt,
        not_before=not_before,
        started_at=started,
        finished_at=finished,
        worker_id=worker,
        lease_expires_at=lease,
        epoch=epoch,
        cancel_requested=cancel,
        streams=streams,
        error=error,
        scheduled_for=scheduled_for,
        attempts=attempts,
        trace_parent=row[19],
    )


def _row(run: Run) -> tuple[Any, ...]:
    fixed = (
        run.id,
        run.organization_id,
        run.pipeline_id,
        run.trigger.value,
        run.max_attempts,
        run.queued_at,
        run.scheduled_for,
    )
    return (*fixed, *_changes(run), run.trace_parent)


class PostgresRunRepository:
    """The ``runs`` table; see ``0008_runs.sql`` for the indexes each query leans on."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def now(self) -> datetime:
        # the transaction's start: one instant for everything the unit of work decides
        cursor = await self._connection().execute("SELECT now()")
        row = await cursor.fetchone()
        assert row is not None  # noqa: S101 - SELECT now() returns one row
        stamp: datetime = row[0]
        return stamp

    async def add(self, run: Run) -> None:
        if await self._insert(_INSERT, run, run.organization_id, run.pipeline_id):
            return
        # nothing inserted: the pipeline is busy, or not the organization's (a round trip
        # on this path only)
        cursor = await self._connection().execute(
            "SELECT FROM pipelines WHERE organization_id = %s AND id = %s",
            (run.organization_id, run.pipeline_id),
        )
        if await cursor.fetchone() is None:
            raise ReferenceConflict("the run's pipeline does not exist (any more)")
        raise RunAlreadyActive(f"pipeline {run.pipeline_id} has a queued or running run")

    async def add_scheduled(self, run: Run) -> bool:
        return await self._insert(_INSERT_SCHEDULED, run)

    async def _insert(self, statement: str, run: Run, *more: object) -> bool:
        try:
            cursor = await self._connection().execute(statement, (*_row(run), *more))
        except errors.ForeignKeyViolation as error:
            raise ReferenceConflict("the run's pipeline does not exist (any more)") from error
        return cursor.rowcount == 1

    async def get(self, organization_id: UUID, run_id: UUID, *, lock: bool = False) -> Run | None:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND id = %s" + (" FOR UPDATE" if lock else ""),
            (organization_id, run_id),
        )
        row = await cursor.fetchone()
        return _run(row) if row else None

    async def list(
        self,
        organization_id: UUID,
        page: PageRequest,
        *,
        pipeline_id: UUID | None = None,
        status: RunStatus | None = None,
    ) -> Page[Run]:
        # newest first: ``page.after`` is the last id seen, the next page holds older ids.
        # Only the filters given are in the statement, so a prepared plan never has to
        # serve both "all pipelines" and "this pipeline" (it would pick the index badly).
        where = ["organization_id = %s"]
        params: list[object] = [organization_id]
        for condition, value in (
            ("pipeline_id = %s", pipeline_id),
            ("status = %s", status.value if status else None),
            ("id < %s", page.after),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        cursor = await self._connection().execute(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
            (*params, page.limit + 1),
        )
        rows = [_run(row) for row in await cursor.fetchall()]
        return Page.from_rows(rows, page, lambda run: run.id)

    async def find_in_any_organization(self, run_id: UUID) -> Run | None:
        cursor = await self._connection().execute(_SELECT + " WHERE id = %s", (run_id,))
        row = await cursor.fetchone()
        return _run(row) if row else None

    async def active(self, limit: int) -> Sequence[Run]:
        # the one-active-run index holds exactly these rows: its scan, then a sort of them
        cursor = await self._connection().execute(
            _SELECT + " WHERE status IN ('queued', 'running') ORDER BY queued_at, id LIMIT %s",
            (limit,),
        )
        return [_run(row) for row in await cursor.fetchall()]

    async def stuck(
        self, expired_before: datetime, ready_before: datetime, limit: int
    ) -> Sequence[Run]:
        # greatest() skips a NULL not_before: such a run is claimable since it was queued
        cursor = await self._connection().execute(
            _SELECT + " WHERE status IN ('queued', 'running') AND ("
            "(status = 'running' AND lease_expires_at < %s)"
            " OR (status = 'queued' AND greatest(queued_at, not_before) < %s))"
            " ORDER BY queued_at, id LIMIT %s",
            (expired_before, ready_before, limit),
        )
        return [_run(row) for row in await cursor.fetchall()]

    async def next_claimable(self, now: datetime) -> Run | None:
        cursor = await self._connection().execute(
            _SELECT + " WHERE status = 'queued' AND (not_before IS NULL OR not_before <= %s)"
            " ORDER BY queued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            (now,),
        )
        row = await cursor.fetchone()
        return _run(row) if row else None

    async def expired(self, now: datetime, limit: int) -> Sequence[Run]:
        cursor = await self._connection().execute(
            _SELECT + " WHERE status = 'running' AND lease_expires_at < %s"
            " ORDER BY lease_expires_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, limit),
        )
        return [_run(row) for row in await cursor.fetchall()]

    async def backlog(self, now: datetime) -> RunBacklog:
        cursor = await self._connection().execute(
            "SELECT count(*), min(greatest(queued_at, not_before))"
            " FILTER (WHERE not_before IS NULL OR not_before <= %s)"
            " FROM runs WHERE status = 'queued'",
            (now,),
        )
        row = await cursor.fetchone()
        queued, oldest = row if row is not None else (0, None)
        return RunBacklog(queued, oldest)

    async def purge_finished(self, before: datetime, limit: int) -> int:
        cursor = await self._connection().execute(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE finished_at < %s"
            " AND status IN ('succeeded', 'failed', 'cancelled') LIMIT %s FOR UPDATE SKIP LOCKED)",
            (before, limit),
        )
        return max(cursor.rowcount, 0)

    async def save(self, run: Run, *, attempt: int, status: RunStatus) -> bool:
        changes = _changes(run)
        if run.status is status:
            changes = (*changes[:-1], None)
        cursor = await self._connection().execute(
            _UPDATE, (*changes, run.organization_id, run.id, attempt, status.value)
        )
        return cursor.rowcount == 1
