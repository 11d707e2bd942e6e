"""Pipelines in PostgreSQL; streams, schedule and state as JSON columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import errors
from psycopg.types.json import Jsonb

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.application.errors import ReferenceConflict
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.pipelines import Pipeline, PipelineNameTaken, Stream, StreamMode
from thedata.domain.schedules import Cron, EverySeconds, Schedule

_SELECT = (
    "SELECT id, organization_id, name, source_id, destination_id, streams, schedule, enabled,"
    " state, created_at, updated_at, last_scheduled_for FROM pipelines"
)


def _stream_json(stream: Stream) -> dict[str, Any]:
    return {
        "name": stream.name,
        "destination": stream.destination,
        "mode": stream.mode.value,
        "cursor_field": stream.cursor_field,
        "primary_key": list(stream.primary_key),
    }


def _stream(data: dict[str, Any]) -> Stream:
    return Stream(
        data["name"],
        data["destination"],
        StreamMode(data["mode"]),
        data.get("cursor_field"),
        tuple(data.get("primary_key") or ()),
    )


def _schedule_json(schedule: Schedule | None) -> dict[str, Any] | None:
    if isinstance(schedule, EverySeconds):
        return {"every_seconds": schedule.seconds}
    if isinstance(schedule, Cron):
        return {"cron": schedule.expression}
    return None


def _schedule(data: dict[str, Any] | None) -> Schedule | None:
    if data is None:
        return None
    if "every_seconds" in data:
        return EverySeconds(int(data["every_seconds"]))
    return Cron(str(data["cron"]))


def _pipeline(row: tuple[Any, ...]) -> Pipeline:
    (id_, org, name, source, destination, streams, schedule, enabled, state) = row[:9]
    (created, updated, last_scheduled_for) = row[9:]
    return Pipeline(
        id_,
        org,
        name,
        source,
        destination,
        tuple(_stream(s) for s in streams),
        _schedule(schedule),
        enabled,
        state,
        created,
        updated,
        last_scheduled_for,
    )


def _columns(p: Pipeline) -> tuple[Any, ...]:
    return (
        p.name,
        p.source_id,
        p.destination_id,
        Jsonb([_stream_json(s) for s in p.streams]),
        Jsonb(_schedule_json(p.schedule)) if p.schedule else None,
        p.enabled,
    )


class PostgresPipelineRepository:
    """The ``pipelines`` table."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, pipeline: Pipeline) -> None:
        p = pipeline
        try:
            await self._connection().execute(
                "INSERT INTO pipelines (name, source_id, destination_id, streams, schedule,"
                " enabled, id, organization_id, state, created_at, updated_at,"
                " last_scheduled_for)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    *_columns(p),
                    p.id,
                    p.organization_id,
                    Jsonb(dict(p.state)),
                    p.created_at,
                    p.updated_at,
                    p.last_scheduled_for,
                ),
            )
        except errors.UniqueViolation as error:
            raise PipelineNameTaken(f"a pipeline is named {p.name!r}") from error
        except errors.ForeignKeyViolation as error:
            raise _endpoint_gone() from error

    async def get(
        self, organization_id: UUID, pipeline_id: UUID, *, lock: bool = False
    ) -> Pipeline | None:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND id = %s" + (" FOR UPDATE" if lock else ""),
            (organization_id, pipeline_id),
        )
        row = await cursor.fetchone()
        return _pipeline(row) if row else None

    async def update(self, pipeline: Pipeline) -> None:
        p = pipeline
        columns = _columns(p)
        try:
            await self._connection().execute(
                "UPDATE pipelines SET name = %s, source_id = %s, destination_id = %s,"
                " streams = %s, schedule = %s, enabled = %s, updated_at = %s,"
                # a new schedule has a new next due time: the scheduler computes it again
                # (the right-hand side reads the row as it was)
                " next_due_at = CASE WHEN schedule IS DISTINCT FROM %s::jsonb THEN NULL"
                " ELSE next_due_at END"
                " WHERE organization_id = %s AND id = %s",
                (*columns, p.updated_at, columns[4], p.organization_id, p.id),
            )
        except errors.UniqueViolation as error:
            raise PipelineNameTaken(f"a pipeline is named {p.name!r}") from error
        except errors.ForeignKeyViolation as error:
            raise _endpoint_gone() from error

    async def delete(self, organization_id: UUID, pipeline_id: UUID) -> None:
        # its runs first, in the order a worker's claim takes them (a run, then its pipeline):
        # the cascade alone would lock the pipeline first, and meet a claim in a deadlock
        await self._connection().execute(
            "SELECT FROM runs WHERE organization_id = %s AND pipeline_id = %s FOR UPDATE",
            (organization_id, pipeline_id),
        )
        await self._connection().execute(
            "DELETE FROM pipelines WHERE organization_id = %s AND id = %s",
            (organization_id, pipeline_id),
        )

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Pipeline]:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND (%s::uuid IS NULL OR id > %s)"
            " ORDER BY id LIMIT %s",
            (organization_id, page.after, page.after, page.limit + 1),
        )
        rows = [_pipeline(row) for row in await cursor.fetchall()]
        return Page.from_rows(rows, page, lambda pipeline: pipeline.id)

    async def next_epoch(self, organization_id: UUID, pipeline_id: UUID) -> int | None:
        # the next number, or the database clock's milliseconds when they are larger: a
        # control database restored from a backup hands out epochs above every one given
        # before the restore (the destinations still hold those, and would refuse smaller
        # ones as a superseded attempt's), unless its clock went back in between
        cursor = await self._connection().execute(
            "UPDATE pipelines SET epoch = greatest(epoch + 1,"
            " (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
            " WHERE organization_id = %s AND id = %s RETURNING epoch",
            (organization_id, pipeline_id),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def raise_epoch(self, organization_id: UUID, pipeline_id: UUID, past: int) -> None:
        await self._connection().execute(
            "UPDATE pipelines SET epoch = greatest(epoch, %s)"
            " WHERE organization_id = %s AND id = %s",
            (past, organization_id, pipeline_id),
        )

    async def record_state(
        self, organization_id: UUID, pipeline_id: UUID, stream: str, state: Mapping[str, Any]
    ) -> None:
        # an older attempt (a zombie) never puts back its older position
        await self._connection().execute(
            "UPDATE pipelines SET state = jsonb_set(state, ARRAY[%s], %s)"
            " WHERE organization_id = %s AND id = %s"
            " AND coalesce((state -> %s ->> 'epoch')::bigint, 0) <= %s",
            (
                stream,
                Jsonb(dict(state)),
                organization_id,
                pipeline_id,
                stream,
                int(state.get("epoch") or 0),
            ),
        )

    async def using(self, data_source_id: UUID) -> int:
        cursor = await self._connection().execute(
            "SELECT count(*) FROM pipelines WHERE source_id = %s OR destination_id = %s",
            (data_source_id, data_source_id),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def due(self, now: datetime, limit: int) -> Sequence[Pipeline]:
        # NO KEY UPDATE, not UPDATE: a trigger's insert of a run takes KEY SHARE on its
        # pipeline (the foreign key) and must not wait for a scheduler that, in turn, waits
        # for that uncommitted run (a deadlock); schedulers still exclude each other.
        # A row another scheduler committed since this statement's snapshot is read again
        # once locked and checked against the WHERE: its next due time moved on, so it drops.
        cursor = await self._connection().execute(
            _SELECT + " WHERE enabled AND schedule IS NOT NULL"
            " AND (next_due_at IS NULL OR next_due_at <= %s)"
            " ORDER BY next_due_at NULLS FIRST LIMIT %s FOR NO KEY UPDATE SKIP LOCKED",
            (now, limit),
        )
        return [_pipeline(row) for row in await cursor.fetchall()]

    async def record_scheduled(
        self,
        organization_id: UUID,
        pipeline_id: UUID,
        last_scheduled_for: datetime | None,
        next_due: datetime | None,
    ) -> None:
        # GREATEST skips NULLs: a NULL keeps the stored time, and the time never moves back
        await self._connection().execute(
            "UPDATE pipelines"
            " SET last_scheduled_for = GREATEST(last_scheduled_for, %s::timestamptz),"
            " next_due_at = COALESCE(%s::timestamptz, 'infinity')"
            " WHERE organization_id = %s AND id = %s",
            (last_scheduled_for, next_due, organization_id, pipeline_id),
        )


def _endpoint_gone() -> ReferenceConflict:
    # a data source deleted by a concurrent request after the pipeline's check
    return ReferenceConflict("a data source the pipeline names was deleted meanwhile")
