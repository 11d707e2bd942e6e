"""The yardstick of ``benchmarks.api_speed``: the service's hot endpoints with nothing but
Litestar, msgspec and a psycopg pool.

``python -m benchmarks.lean_app --host H --port P`` (database: ``BENCH_LEAN_DATABASE_URL``)
answers ``/health/live``, get and list pipelines, create a pipeline, get and list runs and
trigger a run with the JSON the service answers, running the same SQL the service's
repositories run (the same statements, copied here so the yardstick stays fixed while the
service changes): the access token and its user's memberships in one query, then the
endpoint's own statements. What it leaves out is the machinery: no DI container, no
unit of work or transaction (autocommit, one pooled connection per request), no domain
objects, no request ids, access log, problem-detail table or idempotency keys, API keys
not accepted, and jsonb decoded by msgspec. Served by uvicorn with the options
``thedata serve`` gives it (one process, no proxy-header layer, no access log of
uvicorn's), but on the stock asyncio loop (``asyncio.run``) where the service runs on
uvloop: the yardstick as issue 12 first measured it, so that figures compare across
sessions (on uvloop it serves about a tenth faster).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post
from psycopg import AsyncConnection, errors
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool
from uuid_utils.compat import uuid7

from benchmarks.lean_bodies import (
    CreatePipelineRequest,
    PipelineBody,
    PipelinePage,
    RunBody,
    RunPage,
    RunStatsOut,
    ScheduleOut,
    StreamOut,
    cron_problem,
    next_due,
    pipeline_body,
    run_body,
)

DATABASE_ENV = "BENCH_LEAN_DATABASE_URL"
MAX_ATTEMPTS = 3  # THEDATA_RUN_MAX_ATTEMPTS' default

# The service's statements (adapters/postgres/repositories), as they were when this was written.
AUTHENTICATE = (
    "SELECT t.user_id, m.organization_id, m.role FROM access_tokens t"
    " LEFT JOIN memberships m ON m.user_id = t.user_id"
    " WHERE t.token_hash = %s AND t.expires_at > %s"
)
PIPELINES = (
    "SELECT id, organization_id, name, source_id, destination_id, streams, schedule, enabled,"
    " state, created_at, updated_at, last_scheduled_for FROM pipelines"
)
GET_PIPELINE = PIPELINES + " WHERE organization_id = %s AND id = %s"
LIST_PIPELINES = (
    PIPELINES + " WHERE organization_id = %s AND (%s::uuid IS NULL OR id > %s) ORDER BY id LIMIT %s"
)
GET_DATA_SOURCE = (
    "SELECT id, organization_id, name, kind, config, secret_references, created_at, updated_at,"
    " circuit, circuit_open_until, last_check_at, last_error FROM data_sources"
    " WHERE organization_id = %s AND id = %s"
)
INSERT_PIPELINE = (
    "INSERT INTO pipelines (name, source_id, destination_id, streams, schedule,"
    " enabled, id, organization_id, state, created_at, updated_at,"
    " last_scheduled_for)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
RUNS = (
    "SELECT id, organization_id, pipeline_id, trigger, max_attempts, queued_at, scheduled_for,"
    " status, attempt, not_before, started_at, finished_at, worker_id, lease_expires_at, epoch,"
    " cancel_requested, streams, error, attempts FROM runs"
)
GET_RUN = RUNS + " WHERE organization_id = %s AND id = %s"
LIST_RUNS = RUNS + " WHERE organization_id = %s ORDER BY id DESC LIMIT %s"
LIST_RUNS_AFTER = RUNS + " WHERE organization_id = %s AND id < %s ORDER BY id DESC LIMIT %s"
INSERT_RUN = (
    "WITH queued AS (INSERT INTO runs (id, organization_id, pipeline_id, trigger, max_attempts,"
    " queued_at, scheduled_for, status, attempt, not_before, started_at, finished_at, worker_id,"
    " lease_expires_at, epoch, cancel_requested, streams, error, attempts)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (pipeline_id) WHERE status IN ('queued', 'running') DO NOTHING"
    " RETURNING 1) SELECT pg_notify('thedata_run_queued', '') FROM queued"
)

WRITERS = frozenset({"owner", "admin", "member"})
READERS = WRITERS | {"viewer"}
PROBLEM = "application/problem+json"
_CURSOR_DIGEST = {"digest_size": 6, "person": b"thedata.cursor"}


def problem(status: int, detail: str) -> Response[Any]:
    return Response(
        {"title": detail, "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM,
    )


def encode_cursor(after: UUID) -> str:
    digest = hashlib.blake2b(after.bytes, **_CURSOR_DIGEST).digest()  # type: ignore[arg-type]
    return base64.urlsafe_b64encode(after.bytes + digest).decode().rstrip("=")


def decode_cursor(cursor: str) -> UUID | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        return None
    position = raw[:16]
    digest = hashlib.blake2b(position, **_CURSOR_DIGEST).digest()  # type: ignore[arg-type]
    return UUID(bytes=position) if len(position) == 16 and raw[16:] == digest else None


async def authorize(
    connection: AsyncConnection[Any],
    request: Request[Any, Any, Any],
    org: UUID,
    roles: frozenset[str],
) -> Response[Any] | None:
    """``None`` if the bearer's user has one of ``roles`` in ``org``; the refusal otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith("tdt_"):
        return problem(401, "send an access token as 'Authorization: Bearer <token>'")
    cursor = await connection.execute(
        AUTHENTICATE, (hashlib.sha256(token.encode()).digest(), datetime.now(UTC))
    )
    rows = await cursor.fetchall()
    if not rows:
        return problem(401, "the access token is invalid, expired or revoked")
    role = next((r for _, o, r in rows if o == org), None)
    if role is None:
        return problem(404, f"organization {org} not found")
    if role not in roles:
        return problem(403, f"the role {role!r} may not do this")
    return None


def page_limit(limit: int, cursor: str | None) -> tuple[int, UUID | None] | Response[Any]:
    if not 1 <= limit <= 200:
        return problem(400, "limit must be 1 to 200")
    after = decode_cursor(cursor) if cursor is not None else None
    if cursor is not None and after is None:
        return problem(400, "the cursor is invalid")
    return limit, after


def create_app(pool: AsyncConnectionPool) -> Litestar:
    """The app, its handlers reading ``pool``."""

    @get("/health/live", media_type="application/health+json")
    async def live() -> Response[dict[str, str]]:
        return Response({"status": "pass"}, headers={"Cache-Control": "no-store"})

    @get("/v1/orgs/{org_id:uuid}/pipelines/{pipeline_id:uuid}")
    async def get_pipeline(
        request: Request[Any, Any, Any], org_id: UUID, pipeline_id: UUID
    ) -> Response[Any]:
        async with pool.connection() as connection:
            if refused := await authorize(connection, request, org_id, READERS):
                return refused
            row = await (await connection.execute(GET_PIPELINE, (org_id, pipeline_id))).fetchone()
        if row is None:
            return problem(404, f"pipeline {pipeline_id} not found")
        return Response(pipeline_body(row, datetime.now(UTC)))

    @get("/v1/orgs/{org_id:uuid}/pipelines")
    async def list_pipelines(
        request: Request[Any, Any, Any], org_id: UUID, limit: int = 50, cursor: str | None = None
    ) -> Response[Any]:
        page = page_limit(limit, cursor)
        if isinstance(page, Response):
            return page
        size, after = page
        async with pool.connection() as connection:
            if refused := await authorize(connection, request, org_id, READERS):
                return refused
            result = await connection.execute(LIST_PIPELINES, (org_id, after, after, size + 1))
            rows = await result.fetchall()
        now = datetime.now(UTC)
        items = [pipeline_body(row, now) for row in rows[:size]]
        more = len(rows) > size and items
        return Response(PipelinePage(items, encode_cursor(items[-1].id) if more else None))

    @post("/v1/orgs/{org_id:uuid}/pipelines")
    async def create_pipeline(request: Request[Any, Any, Any], org_id: UUID) -> Response[Any]:
        try:
            data = msgspec.json.decode(await request.body(), type=CreatePipelineRequest)
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            return problem(400, str(e))
        refused = _pipeline_problem(data)
        if refused is not None:
            return problem(400, refused)
        now = datetime.now(UTC)
        pipeline_id = uuid7()
        spec = data.schedule
        schedule = ScheduleOut(spec.every_seconds, spec.cron) if spec is not None else None
        # msgspec writes the jsonb columns (see _configure): the structs go in as they are
        streams = [
            StreamOut(s.name, s.destination, s.mode, s.cursor_field, list(s.primary_key or ()))
            for s in data.streams
        ]
        async with pool.connection() as connection:
            if refused_by := await authorize(connection, request, org_id, WRITERS):
                return refused_by
            for data_source in (data.source_id, data.destination_id):
                found = await connection.execute(GET_DATA_SOURCE, (org_id, data_source))
                if await found.fetchone() is None:
                    return problem(400, "no data source with this id in the organization")
            try:
                await connection.execute(
                    INSERT_PIPELINE,
                    (
                        data.name,
                        data.source_id,
                        data.destination_id,
                        Jsonb(streams),
                        Jsonb(schedule) if schedule else None,
                        data.enabled,
                        pipeline_id,
                        org_id,
                        Jsonb({}),
                        now,
                        now,
                        None,
                    ),
                )
            except errors.UniqueViolation:
                return problem(409, f"a pipeline is named {data.name!r}")
            except errors.ForeignKeyViolation:
                return problem(409, "a data source the pipeline names was deleted meanwhile")
        due = next_due(msgspec.to_builtins(schedule), now) if schedule and data.enabled else None
        body = PipelineBody(
            id=pipeline_id,
            name=data.name,
            source_id=data.source_id,
            destination_id=data.destination_id,
            streams=streams,
            schedule=schedule,
            enabled=data.enabled,
            state={},
            next_run_at=due,
            created_at=now,
            updated_at=now,
        )
        return Response(body, status_code=201)

    @post("/v1/orgs/{org_id:uuid}/pipelines/{pipeline_id:uuid}/runs")
    async def trigger_run(
        request: Request[Any, Any, Any], org_id: UUID, pipeline_id: UUID
    ) -> Response[Any]:
        now = datetime.now(UTC)
        run_id = uuid7()
        async with pool.connection() as connection:
            if refused := await authorize(connection, request, org_id, WRITERS):
                return refused
            found = await connection.execute(GET_PIPELINE, (org_id, pipeline_id))
            if await found.fetchone() is None:
                return problem(404, f"pipeline {pipeline_id} not found")
            inserted = await connection.execute(
                INSERT_RUN,
                (
                    *(run_id, org_id, pipeline_id, "manual", MAX_ATTEMPTS, now, None, "queued", 0),
                    *(None, None, None, None, None, None, False, Jsonb({}), None, Jsonb([])),
                ),
            )
            if inserted.rowcount != 1:
                return problem(409, f"pipeline {pipeline_id} has a queued or running run")
        stats = RunStatsOut(0, 0, {})
        body = RunBody(
            *(run_id, pipeline_id, "queued", "manual", 0, MAX_ATTEMPTS, now, None, None, None),
            *(None, False, stats, None, []),
        )
        return Response(body, status_code=202)

    @get("/v1/orgs/{org_id:uuid}/runs/{run_id:uuid}")
    async def get_run(request: Request[Any, Any, Any], org_id: UUID, run_id: UUID) -> Response[Any]:
        async with pool.connection() as connection:
            if refused := await authorize(connection, request, org_id, READERS):
                return refused
            row = await (await connection.execute(GET_RUN, (org_id, run_id))).fetchone()
        if row is None:
            return problem(404, f"run {run_id} not found")
        return Response(run_body(row))

    @get("/v1/orgs/{org_id:uuid}/runs")
    async def list_runs(
        request: Request[Any, Any, Any], org_id: UUID, limit: int = 50, cursor: str | None = None
    ) -> Response[Any]:
        page = page_limit(limit, cursor)
        if isinstance(page, Response):
            return page
        size, after = page
        async with pool.connection() as connection:
            if refused := await authorize(connection, request, org_id, READERS):
                return refused
            if after is None:
                result = await connection.execute(LIST_RUNS, (org_id, size + 1))
            else:
                result = await connection.execute(LIST_RUNS_AFTER, (org_id, after, size + 1))
            rows = await result.fetchall()
        items = [run_body(row) for row in rows[:size]]
        more = len(rows) > size and items
        return Response(RunPage(items, encode_cursor(items[-1].id) if more else None))

    handlers = [
        live,
        get_pipeline,
        list_pipelines,
        create_pipeline,
        trigger_run,
        get_run,
        list_runs,
    ]
    return Litestar(route_handlers=handlers, openapi_config=None, logging_config=None)


def _pipeline_problem(data: CreatePipelineRequest) -> str | None:
    """What the service's domain rules refuse in a new pipeline (names, streams, schedule)."""
    if not data.name.strip():
        return "the name is invalid"
    names = [s.name for s in data.streams]
    destinations = [s.destination for s in data.streams]
    if len(set(names)) < len(names) or len(set(destinations)) < len(destinations):
        return "two streams share a name or a destination"
    for stream in data.streams:
        if stream.destination.lower().startswith("_thedata_"):
            return "names starting with '_thedata_' are the engine's own"
        if stream.mode == "incremental" and stream.cursor_field is None:
            return "an incremental stream needs a cursor_field"
    schedule = data.schedule
    if schedule is not None:
        if (schedule.every_seconds is None) == (schedule.cron is None):
            return "give exactly one of every_seconds and cron"
        if schedule.cron is not None:
            return cron_problem(schedule.cron)
    return None


async def _configure(connection: AsyncConnection[Any]) -> None:
    set_json_loads(msgspec.json.decode, connection)
    set_json_dumps(msgspec.json.encode, connection)


async def serve(database_url: str, host: str, port: int) -> None:
    """Open the pool as the service opens its own (1 to 10 connections), then serve."""
    pool = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=10,
        timeout=5,
        open=False,
        configure=_configure,
        kwargs={
            "autocommit": True,
            "options": "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000",
            "application_name": "thedata-lean",
        },
    )
    await pool.open(wait=True, timeout=30)
    try:
        config = uvicorn.Config(
            create_app(pool),
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=20,
            server_header=False,
            access_log=False,
            proxy_headers=False,
        )
        await uvicorn.Server(config).serve()
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    asyncio.run(serve(os.environ[DATABASE_ENV], args.host, args.port))


if __name__ == "__main__":
    main()
