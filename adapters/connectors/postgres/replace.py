"""Full refresh: the whole stream is loaded aside in one transaction, then published at once.

Two ways to publish, chosen by what hangs on the table (``dependents``):

- nothing: the rows go into a new table beside it, its primary key is built
  after the load, and at ``finish`` the old table is dropped and the new one
  renamed in its place. Readers wait only for that moment.
- views, grants, foreign keys, triggers...: the rows go into a temporary
  table, and at ``finish`` the table itself is truncated and refilled from it,
  which keeps everything that refers to it. Readers wait for the refill. When
  another table's foreign key refers to it (TRUNCATE refuses), its rows are
  replaced by key instead: upserted, and those the source no longer has deleted.

Either way readers see the old table or the new one, never a part of either,
and an attempt that dies before ``finish`` leaves nothing behind: the load is
one transaction that never committed.
"""

from __future__ import annotations

import asyncio
import hashlib

import psycopg
from psycopg import sql

from thedata.adapters.connectors.postgres.copying import copy_batch
from thedata.adapters.connectors.postgres.dependents import keeps_dependents, referenced
from thedata.adapters.connectors.postgres.destination import Destination
from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.adapters.connectors.postgres.tables import (
    Table,
    columns_sql,
    names_sql,
    new_columns,
    relation_exists,
    upsert_sql,
)
from thedata.application.ports.streams import (
    MAX_IDENTIFIER_BYTES,
    Batch,
    Fingerprint,
    FrameFormat,
    Position,
    StreamFailed,
    Written,
)

LOAD_TABLE = sql.Identifier("pg_temp", "_thedata_load")
LOAD_IDLE = "10min"
"""How long the load transaction may sit idle: it spans the whole read, idle while the source
produces the next batch. Past it the server ends the session: a worker paused mid-load holds
nothing for ever (its publish, from the state row on, may sit idle far less)."""
LOCK_TIMEOUT = "1s"
"""How long one try to lock the table may queue readers behind it."""
LOCK_TRIES = 30
BUSY = "the table stayed in use by other sessions; the full refresh may be retried"
KEY_BUILD_MEMORY = 256 * 1024 * 1024
"""The least memory the key's build is given (the server's own setting when larger), for the
load transaction only. PostgreSQL's default of 64 MB sorts a million keys on disk and allows one
parallel worker (each needs 32 MB); with this it sorts in memory with up to the server's
``max_parallel_maintenance_workers``: measured on 1M rows, 0.45 s down to 0.31-0.37 s."""
_KEY_BUILD_MEMORY = sql.SQL(
    "SELECT set_config('maintenance_work_mem', greatest("
    "pg_size_bytes(current_setting('maintenance_work_mem')), {}) / 1024 || 'kB', true)"
).format(sql.Literal(KEY_BUILD_MEMORY))


def staging_name(table: str, epoch: int) -> str:
    """The load table beside ``table`` for the attempt ``epoch`` (always a valid name)."""
    digest = hashlib.sha256(table.encode()).hexdigest()[:12]
    return f"_thedata_load_{digest}_{epoch}"


class ReplaceStream:
    """An open ``REPLACE`` stream; its connection is inside the load transaction."""

    def __init__(self, destination: Destination) -> None:
        self._destination = destination
        self._position: Position | None = None  # a full refresh holds no read position
        self._end: Position | None = None
        self._staging: Table | None = None  # None: the temporary table (truncate and refill)
        self._published = False

    async def prepare(self) -> None:
        """Choose how to publish, and open the load transaction with its load table."""
        destination = self._destination
        connection, table, shape = destination.connection, destination.table, destination.shape
        oid = await table.oid(connection)
        if oid is not None:  # fail before loading anything if the source broke the table
            new_columns(table.name, await table.columns(connection, oid), shape)
        await connection.set_autocommit(False)
        await connection.execute(  # opens the load transaction
            sql.SQL("SET LOCAL idle_in_transaction_session_timeout = {}").format(
                sql.Literal(LOAD_IDLE)
            )
        )
        if oid is not None and await keeps_dependents(connection, oid):
            await connection.execute(
                sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                    LOAD_TABLE, columns_sql(shape)
                )
            )
            return
        self._staging = Table(table.schema, staging_name(table.name, destination.state.epoch))
        await self._staging.create(connection, shape, keyed=False)

    @property
    def position(self) -> Position | None:
        return self._position

    @property
    def formats(self) -> tuple[FrameFormat, ...]:
        return self._destination.formats

    async def write(self, batch: Batch) -> Written:
        destination = self._destination
        destination.accept(batch)
        target = self._staging.sql if self._staging is not None else LOAD_TABLE
        with translated():
            await self._still_open()
            written = await copy_batch(
                destination.connection, target, destination.shape.names, batch, destination.encoding
            )
        if batch.end is not None:
            self._end = batch.end
        return written

    async def fingerprint(self) -> Fingerprint | None:
        return await self._destination.fingerprint()

    async def finish(self) -> None:
        destination = self._destination
        connection, table, shape = destination.connection, destination.table, destination.shape
        with translated():
            await self._still_open()
            if self._staging is not None and shape.primary_key:  # built once, after the load
                await connection.execute(
                    sql.SQL("{}; ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                        _KEY_BUILD_MEMORY,
                        self._staging.sql,
                        sql.Identifier(self._staging.name + "_pkey"),
                        names_sql(shape.primary_key),
                    )
                )
            oid = await self._lock(table)
            if self._staging is not None and (
                oid is None or not await keeps_dependents(connection, oid)
            ):
                await self._swap(oid)
            else:
                await self._refill(oid)
            # the state row last: a newer open never waits behind the table's lock or refill
            await destination.state.lock(connection)  # its position is not ours to read
            await destination.state.save(connection, self._end)
            await connection.commit()
        self._position, self._published = self._end, True

    async def _still_open(self) -> None:
        await self._destination.state.still_ours(self._destination.connection)
        if self._published:
            raise StreamFailed("this full refresh was published already")

    async def _lock(self, table: Table) -> int | None:
        """Lock the table against everyone (``None``: there is none yet), trying for a while
        rather than queueing readers behind a long wait."""
        connection = self._destination.connection
        for attempt in range(LOCK_TRIES):
            oid = await table.oid(connection)
            if oid is None:
                return None
            try:
                async with connection.transaction():  # a savepoint: a timeout undoes only this
                    await connection.execute(
                        sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
                    )
                    await connection.execute(
                        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.sql)
                    )
                    # back to the session's wait (TO DEFAULT would be no limit at all)
                    await connection.execute(
                        sql.SQL("SET LOCAL lock_timeout = {}").format(
                            sql.Literal(self._destination.lock_wait)
                        )
                    )
            except psycopg.errors.LockNotAvailable:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            if await table.oid(connection) == oid:  # the same table as the one locked
                return oid
        raise StreamFailed(BUSY, retryable=True)

    async def _swap(self, oid: int | None) -> None:
        destination = self._destination
        connection, table = destination.connection, destination.table
        staging = self._staging
        assert staging is not None  # noqa: S101 - only called with a staging table
        if oid is not None:
            new_columns(table.name, await table.columns(connection, oid), destination.shape)
            await connection.execute(sql.SQL("DROP TABLE {}").format(table.sql))
        await connection.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging.sql, sql.Identifier(table.name))
        )
        key_name = table.name + "_pkey"
        if (
            destination.shape.primary_key
            and len(key_name.encode()) <= MAX_IDENTIFIER_BYTES
            and not await relation_exists(connection, table.schema, key_name)
        ):
            await connection.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(table.schema, staging.name + "_pkey"), sql.Identifier(key_name)
                )
            )

    async def _refill(self, oid: int | None) -> None:
        destination = self._destination
        connection, table, shape = destination.connection, destination.table, destination.shape
        source = self._staging.sql if self._staging is not None else LOAD_TABLE
        if oid is None:
            await table.create(connection, shape, keyed=True)
            keyed = True
        else:
            await table.evolve(connection, oid, shape)
            if await referenced(connection, oid):
                await self._merge(oid, source)
                return
            keyed = not shape.primary_key or await table.has_primary_key(connection, oid)
            await connection.execute(sql.SQL("TRUNCATE {}").format(table.sql))
        names = names_sql(shape.names)
        await connection.execute(  # the source's values, even into an identity column
            sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                table.sql, names, names, source
            )
        )
        if not keyed:
            await table.add_primary_key(connection, shape.primary_key)
        if self._staging is not None:
            await connection.execute(sql.SQL("DROP TABLE {}").format(self._staging.sql))

    async def _merge(self, oid: int, source: sql.Composable) -> None:
        """Replace the rows by key: foreign keys of other tables still find the rows the source
        still has (and one pointing at a row the source dropped fails the stream)."""
        destination = self._destination
        connection, table, shape = destination.connection, destination.table, destination.shape
        if not shape.primary_key or not await table.has_key(connection, oid, shape.primary_key):
            raise StreamFailed(
                f"table {table.name!r} is referenced by foreign keys and has no unique key on "
                "the stream's primary key: a full refresh could not keep them"
            )
        await connection.execute(upsert_sql(table.sql, shape, source))
        same_key = sql.SQL(" AND ").join(
            sql.SQL("s.{0} = t.{0}").format(sql.Identifier(name)) for name in shape.primary_key
        )
        await connection.execute(
            sql.SQL("DELETE FROM {} t WHERE NOT EXISTS (SELECT FROM {} s WHERE {})").format(
                table.sql, source, same_key
            )
        )
        if self._staging is not None:
            await connection.execute(sql.SQL("DROP TABLE {}").format(self._staging.sql))
