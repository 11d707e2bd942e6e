"""The ``postgres`` kind as a source: a stream is a table (or view) of the configured schema.

A read is one ``REPEATABLE READ READ ONLY`` transaction on the hardened
connection of ``session``: the table is locked against changes of its
definition before the snapshot is taken, the columns the plan expects are
checked against the catalog in that snapshot, and every batch comes from it.
Output settings that change a value's text (time zone, date and interval
style, float digits) are pinned, so a position's text reads back the same.
A full read is one ``COPY``; an incremental one is a first pass that finds
the batch boundaries (``cursor``; when few rows are to be read, from the
addresses a pass before it listed), then one ``COPY`` of the rows committed
late and one of the rows after the position, each cut into batches. Every
format but rows passes the server's bytes on: binary COPY, CSV, or JSON Lines
(``text_copy``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.names import identifier
from thedata.adapters.connectors.postgres.config import PostgresConfig
from thedata.adapters.connectors.postgres.cursor import (
    ADDRESSES,
    HORIZON,
    RELATIONS,
    SCANS_AGAIN,
    Cuts,
    Horizon,
    IncrementalSql,
)
from thedata.adapters.connectors.postgres.fingerprint import PINNED_OUTPUT, table_fingerprint
from thedata.adapters.connectors.postgres.read_formats import (
    Out,
    Statements,
    empty,
    full_copy,
    may_break_lines,
    out_of,
)
from thedata.adapters.connectors.postgres.session import Connection, connect
from thedata.adapters.connectors.postgres.shape import (
    PINNED_PATH,
    SourceTable,
    no_table,
    source_table,
)
from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.application.ports.streams import (
    Batch,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
)

_LOCKABLE = ("r", "p", "v")
"""``LOCK TABLE`` takes tables and views; materialized views and foreign tables need none."""
_KIND = """
SELECT c.relkind::text FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_ESTIMATE = """
SELECT CASE WHEN c.relkind IN ('r', 'm', 'p') AND c.reltuples >= 0 THEN c.reltuples::bigint END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
"""The planner's row count (``-1``: never analyzed; views have none): no count is made."""
WHOLE_TABLE = (
    "reading {stream!r} needs SELECT on the whole table: a read locks it against changes of "
    "its columns, which a grant of some columns does not allow (to hide columns, grant a "
    "view of the others)"
)
STANDBY = (
    "incremental reads need the primary server: a standby cannot tell which transactions "
    "are still running there"
)


def _settings(lock_timeout: float) -> str:
    # utility statements: they take no snapshot, so the lock below still comes first.
    # Custom plans: a list of ids is hashed only when the planner sees it as a constant, which
    # a generic plan (plan_cache_mode set so for the role or database) never does
    return (
        f"SET LOCAL search_path = pg_catalog, pg_temp; {PINNED_OUTPUT};"
        f" SET LOCAL lock_timeout = '{max(1, int(lock_timeout * 1000))}ms';"
        " SET LOCAL plan_cache_mode = force_custom_plan"
    )


def _checked_plan(table: SourceTable, plan: ReadPlan) -> None:
    """``StreamFailed`` naming a planned column the source lacks or now types otherwise: binary
    frames are only meaningful for the types the destination was told about."""
    if not plan.shape.columns:
        raise StreamFailed(f"the read of {table.name!r} asks for no columns")
    if plan.batch_rows < 1:
        raise StreamFailed("a batch must hold at least one row")
    for column in plan.shape.columns:
        identifier(column.name, "column")
        found = table.shape.column(column.name)
        if found is None:
            raise StreamFailed(f"the source table {table.name!r} has no column {column.name!r}")
        if found.type != column.type:
            raise StreamFailed(
                f"the column {column.name!r} changed type: the source has {found.type!r}, "
                f"the stream expects {column.type!r}"
            )


class PostgresStreamReader:
    """Reads tables and views of the configured schema as streams."""

    formats: Sequence[FrameFormat] = (
        FrameFormat.POSTGRES_BINARY,
        FrameFormat.CSV,
        FrameFormat.JSON_LINES,
        FrameFormat.ROWS,
    )

    def __init__(
        self, environment: Environment, config: PostgresConfig, password: str | None
    ) -> None:
        self._environment, self._config, self._password = environment, config, password

    async def _connect(self) -> Connection:
        return await connect(self._environment, self._config, self._password, autocommit=True)

    async def shape(self, stream: str) -> Shape:
        identifier(stream, "table")
        connection = await self._connect()
        try:
            with translated():
                await connection.execute(PINNED_PATH)
                table = await source_table(connection, self._config.schema, stream)
        finally:
            await connection.close()
        return table.shape

    async def estimate(self, stream: str) -> int | None:
        identifier(stream, "table")
        connection = await self._connect()
        try:
            with translated():
                found = await connection.execute(_ESTIMATE, (self._config.schema, stream))
                row = await found.fetchone()
        finally:
            await connection.close()
        return None if row is None or row[0] is None else int(row[0])

    @asynccontextmanager
    async def read(self, stream: str, plan: ReadPlan) -> AsyncIterator[AsyncIterator[Batch]]:
        identifier(stream, "table")
        connection = await self._connect()
        batches: Any = None
        try:
            with translated():
                table = await self._begin(connection, stream)
                _checked_plan(table, plan)
                one_line = plan.format is FrameFormat.JSON_LINES and await may_break_lines(
                    connection, table, plan.shape.names
                )
                if plan.cursor_field is None:
                    batches = _full(connection, table, plan, one_line=one_line)
                else:
                    batches = await self._incremental(connection, table, plan, one_line=one_line)
            yield batches
        finally:
            # closing first ends a COPY still running without a cancel request round trip;
            # the transaction was read only, so nothing is lost by not ending it politely
            await connection.close()
            if batches is not None:
                await batches.aclose()

    async def _begin(self, connection: Connection, stream: str) -> SourceTable:
        schema = self._config.schema
        found = await (await connection.execute(_KIND, (schema, stream))).fetchone()
        if found is None:
            raise no_table(schema, stream)
        await connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await connection.execute(_settings(self._environment.timeout))
        locked = found[0] in _LOCKABLE
        if locked:
            try:
                await connection.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                        sql.Identifier(schema, stream)
                    )
                )
            except psycopg.errors.UndefinedTable:
                raise no_table(schema, stream) from None
            except psycopg.errors.InsufficientPrivilege:
                raise StreamFailed(WHOLE_TABLE.format(stream=stream)) from None
        table = await source_table(connection, schema, stream)  # the snapshot starts here
        if (table.kind in _LOCKABLE) != locked:
            raise StreamFailed(
                f"{stream!r} was replaced while the read began; it may be retried", retryable=True
            )
        return table

    async def _incremental(
        self, connection: Connection, table: SourceTable, plan: ReadPlan, *, one_line: bool
    ) -> AsyncIterator[Batch]:
        if not table.versioned:
            raise StreamFailed(
                f"{table.name!r} is a view or foreign table: an incremental read needs a table, "
                "whose rows tell which transaction wrote them"
            )
        row = await (await connection.execute(HORIZON)).fetchone()
        assert row is not None  # noqa: S101 - a SELECT without FROM returns one row
        snapshot, xmin, young, standby, version = row
        if standby:
            raise StreamFailed(STANDBY)
        horizon = Horizon(str(snapshot), int(xmin), int(young))
        relations = None
        if not table.plain:
            found = await (await connection.execute(RELATIONS, (table.oid,))).fetchone()
            relations = None if found is None else found[0]
        queries = IncrementalSql(
            table, plan, horizon, server_version=int(version), relations=relations
        )
        cuts = await _cuts(connection, queries)
        return _incremental(
            connection, table, plan, horizon, Statements(queries, plan, one_line), cuts
        )


async def _cuts(connection: Connection, queries: IncrementalSql) -> Cuts:
    """Where the read's batches end: from the rows' addresses first when the table has them
    (nothing more is asked when there is no row to read)."""
    listing = queries.addresses()
    if listing is not None:
        found = await (await connection.execute(listing, queries.params)).fetchone()
        assert found is not None  # noqa: S101 - an aggregate without GROUP BY returns one row
        count, addresses = found
        if not count:
            return Cuts((), ())
        if queries.by_address(int(count)):
            await connection.execute(ADDRESSES, (addresses,))
    rows = await (await connection.execute(queries.cuts(), queries.params)).fetchall()
    return queries.read_cuts(rows)


async def _full(
    connection: Connection, table: SourceTable, plan: ReadPlan, *, one_line: bool
) -> AsyncIterator[Batch]:
    """Every row, in batches of ``batch_rows`` cut from one ``COPY``."""
    statement = full_copy(table, plan, one_line=one_line)
    with translated():
        async with connection.cursor().copy(statement) as copy:
            out = out_of(connection, copy, table, plan)
            first = True
            # a full read always has a batch, even of no rows: the destination's new table
            while first or not await out.exhausted():
                first = False
                yield Batch(plan.format, out.payload(plan.batch_rows, exact=False))
        await _fingerprint(connection, table, plan, complete=True)


async def _incremental(
    connection: Connection,
    table: SourceTable,
    plan: ReadPlan,
    horizon: Horizon,
    statements: Statements,
    cuts: Cuts,
) -> AsyncIterator[Batch]:
    """The late rows, then the rows after the position, in batches of ``batch_rows`` (late
    rows by whole transactions), each with where the read stands after it."""
    after, params = plan.after, statements.queries.params
    with translated():
        if cuts.late:
            assert after is not None  # noqa: S101 - late rows need a stored position
            async with connection.cursor().copy(statements.copy(late=True), params) as copy:
                out = out_of(connection, copy, table, plan)
                before = 0
                for late in cuts.late:
                    # late rows lie below the position: it stays, and the horizon moves on
                    end = Position(after.cursor, after.key, late.snapshot(horizon))
                    yield Batch(plan.format, out.payload(late.rows - before), end)
                    before = late.rows
                await _ended(out)
        if cuts.ends:
            async with connection.cursor().copy(statements.copy(late=False), params) as copy:
                out = out_of(connection, copy, table, plan)
                before = 0
                for boundary in cuts.ends:
                    cursor, *key = boundary.values
                    end = Position(cursor, tuple(key), horizon.snapshot)
                    yield Batch(plan.format, out.payload(boundary.rows - before), end)
                    before = boundary.rows
                await _ended(out)
        moved = after is not None and after.snapshot != horizon.snapshot
        if not cuts.late and not cuts.ends and after is not None and moved:
            # nothing new: only the snapshot moves on, so the next read looks back less far
            end = Position(after.cursor, after.key, horizon.snapshot)
            yield Batch(plan.format, empty(plan.format), end)
        if plan.fingerprint is not None and statements.queries.addressed:
            await connection.execute(SCANS_AGAIN)
        await _fingerprint(
            connection,
            table,
            plan,
            complete=horizon.quiet,
            relations=statements.queries.relations,
        )


async def _fingerprint(
    connection: Connection,
    table: SourceTable,
    plan: ReadPlan,
    *,
    complete: bool,
    relations: str | None = None,
) -> None:
    """Tell the plan the whole table's fingerprint, in the read's snapshot, when it asks: of
    the table ONLY when it had no children then (as ``COPY table TO`` reads it), else of the
    ``relations`` the snapshot's catalog listed, when the read knows them."""
    if plan.fingerprint is None:
        return
    source = table.read_from
    if relations is not None:  # the stream's columns only: the others may not be readable
        source = sql.SQL("(SELECT {} FROM {} WHERE tableoid = ANY ({}::oid[])) AS {}").format(
            sql.SQL(", ").join(map(sql.Identifier, plan.shape.names)),
            sql.Identifier(table.schema, table.name),
            sql.Literal(relations),
            sql.Identifier(table.name),
        )
    plan.fingerprint(
        await table_fingerprint(connection, source, plan.shape.names, complete=complete)
    )


async def _ended(out: Out) -> None:
    if not await out.exhausted():
        raise StreamFailed("the source sent more rows than the first pass counted")


def postgres_reader(
    environment: Environment,
    _organization_id: UUID,
    config: PostgresConfig,
    secrets: Mapping[str, str],
) -> PostgresStreamReader:
    """The ``postgres`` kind's stream reader."""
    return PostgresStreamReader(environment, config, secrets.get("password"))
