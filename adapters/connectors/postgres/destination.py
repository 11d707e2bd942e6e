"""What an open destination stream works with: its connection, state row, table and shape."""

from __future__ import annotations

from typing import Any

import psycopg
from attrs import frozen

from thedata.adapters.connectors.postgres.copying import RowEncoding
from thedata.adapters.connectors.postgres.fingerprint import PINNED_OUTPUT, table_fingerprint
from thedata.adapters.connectors.postgres.state import StreamState
from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.adapters.connectors.postgres.tables import FIRST_USER_OID, Table
from thedata.application.ports.streams import (
    Batch,
    Fingerprint,
    FrameFormat,
    Shape,
    StreamFailed,
)


@frozen
class Destination:
    """One attempt's connection to a stream's table, and how its rows are encoded."""

    connection: psycopg.AsyncConnection[Any]
    state: StreamState
    table: Table
    shape: Shape
    oids: tuple[int, ...]
    """The columns' types as the destination knows them, in shape order."""
    encoding: RowEncoding
    lock_wait: str = "5s"
    """How long the session waits for a lock (a PostgreSQL duration), unless said otherwise."""

    @property
    def formats(self) -> tuple[FrameFormat, ...]:
        """Binary COPY frames pass through only when every type is built in: a user type has
        another oid on every server, and binary arrays and records carry their elements' oids.
        Text (CSV, JSON Lines) is read by each column type's input function, whatever its oid,
        and is preferred to rows, which would be decoded and encoded again on the way."""
        text = (FrameFormat.CSV, FrameFormat.JSON_LINES, FrameFormat.ROWS)
        if all(oid < FIRST_USER_OID for oid in self.oids):
            return (FrameFormat.POSTGRES_BINARY, *text)
        return text

    def accept(self, batch: Batch) -> None:
        """``StreamFailed`` unless the batch comes in a format this stream takes."""
        if batch.format not in self.formats:
            raise StreamFailed(
                f"table {self.table.name!r} cannot take {batch.format.value} frames: a column "
                "has a user-defined type, whose binary form differs between servers"
            )

    async def fingerprint(self) -> Fingerprint:
        """The published table's fingerprint over the shape's columns (after ``finish``)."""
        with translated():
            async with self.connection.transaction():
                await self.connection.execute(PINNED_OUTPUT)
                return await table_fingerprint(self.connection, self.table.sql, self.shape.names)


async def drain(batch: Batch) -> None:
    """Consume a batch's frames without writing them (a batch already in)."""
    async for _frame in batch.frames:
        pass
