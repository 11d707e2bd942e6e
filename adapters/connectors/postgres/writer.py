"""The ``postgres`` kind as a destination: streams written into the data source's schema.

``open`` takes the stream for the attempt's epoch (``state``), makes the table
fit the shape (``tables``) and hands back the stream for its mode:
``incremental`` (upsert or append, a transaction per batch) or ``replace``
(one load transaction, published at ``finish``). Every connection is the
hardened one of ``session``; every driver error leaves as ``StreamFailed``.

Nothing a writer's session does waits without end: locks are waited for the
connector timeout (the state row a while longer), a transaction left idle is
ended by the server after the connector timeout (a full refresh's load after
``replace.LOAD_IDLE``), and the server notices a vanished worker by TCP
keepalives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from uuid import UUID

from psycopg import sql

from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.names import checked_shape
from thedata.adapters.connectors.postgres.config import PostgresConfig
from thedata.adapters.connectors.postgres.copying import row_encoding
from thedata.adapters.connectors.postgres.destination import Destination
from thedata.adapters.connectors.postgres.incremental import IncrementalStream
from thedata.adapters.connectors.postgres.replace import ReplaceStream
from thedata.adapters.connectors.postgres.session import (
    SERVER_KEEPALIVES,
    Connection,
    connect,
    duration,
)
from thedata.adapters.connectors.postgres.state import Definition, StreamState, decode_position
from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.adapters.connectors.postgres.tables import Table, type_oids
from thedata.application.ports.streams import Shape, StreamFailed, WriteMode
from thedata.domain.pipelines import RESERVED_PREFIX

Stream = IncrementalStream | ReplaceStream

# a publish has no reason to sit idle in a transaction: a paused worker's session is ended by
# the server after the connector timeout, with the rows and the state row it locked
_SESSION = (
    "SET idle_in_transaction_session_timeout = {idle}; SET lock_timeout = {wait}; "
    + SERVER_KEEPALIVES
)


class PostgresStreamWriter:
    """Writes streams into tables of the configured schema, with their state beside them."""

    def __init__(
        self, environment: Environment, config: PostgresConfig, password: str | None
    ) -> None:
        self._environment, self._config, self._password = environment, config, password

    @asynccontextmanager
    async def open(
        self, pipeline: str, stream: str, table: str, shape: Shape, mode: WriteMode, epoch: int
    ) -> AsyncIterator[Stream]:
        checked_shape(shape, table)
        if table.lower().startswith(RESERVED_PREFIX):  # the domain refuses them too
            raise reserved(table)
        if mode is WriteMode.UPSERT and not shape.primary_key:
            raise StreamFailed(f"the stream {stream!r} upserts but names no primary key")
        connection = await connect(self._environment, self._config, self._password, autocommit=True)
        try:
            with translated():
                opened = await self._open(connection, pipeline, stream, table, shape, mode, epoch)
            yield opened
        finally:
            # closing never commits: a load that was not finished is rolled back by the server
            await connection.close()

    async def _open(
        self,
        connection: Connection,
        pipeline: str,
        stream: str,
        table: str,
        shape: Shape,
        mode: WriteMode,
        epoch: int,
    ) -> Stream:
        wait = duration(self._environment.timeout)
        await connection.execute(
            sql.SQL(_SESSION).format(idle=sql.Literal(wait), wait=sql.Literal(wait))
        )
        state = StreamState(self._config.schema, pipeline, stream, epoch, brief=wait)
        state_oid = await state.ensure_table(connection)
        target = Table(self._config.schema, table)
        if await target.oid(connection) == state_oid:  # whatever its name: never the state
            raise reserved(table)
        oids = await type_oids(connection, shape)
        destination = Destination(
            connection, state, target, shape, oids, await row_encoding(connection, oids), wait
        )
        # a transaction of its own: the row is held for a moment only
        stored = await state.claim(
            connection, Definition(table, mode.value, list(shape.primary_key))
        )
        if mode is not WriteMode.REPLACE:  # a full refresh changes the table at finish
            async with connection.transaction():
                await _fit(destination, keyed=mode is WriteMode.UPSERT)
        opened: Stream = (
            ReplaceStream(destination)  # reads everything: no position (nor a garbled one)
            if mode is WriteMode.REPLACE
            else IncrementalStream(destination, mode, decode_position(stored))
        )
        await opened.prepare()
        return opened


def reserved(table: str) -> StreamFailed:
    """The error of a stream whose destination is one of the engine's own tables."""
    return StreamFailed(
        f"the destination table {table!r} has a name the engine keeps for itself (its state "
        f"and load tables start with {RESERVED_PREFIX!r})"
    )


async def _fit(destination: Destination, *, keyed: bool) -> None:
    """Create the table, or add the columns the source gained; for an upsert, make sure the
    key is unique (the primary key is added to a table that has none)."""
    connection, table, shape = destination.connection, destination.table, destination.shape
    oid = await table.oid(connection)
    if oid is None:
        await table.create(connection, shape, keyed=keyed)
        return
    await table.evolve(connection, oid, shape)
    if not keyed or await table.has_key(connection, oid, shape.primary_key):
        return
    if await table.has_primary_key(connection, oid):
        raise StreamFailed(
            f"table {table.name!r} has another primary key than the stream's "
            f"({', '.join(shape.primary_key)})"
        )
    await table.add_primary_key(connection, shape.primary_key)


def postgres_writer(
    environment: Environment,
    _organization_id: UUID,
    config: PostgresConfig,
    secrets: Mapping[str, str],
) -> PostgresStreamWriter:
    """The ``postgres`` kind's stream writer."""
    return PostgresStreamWriter(environment, config, secrets.get("password"))
