"""Incremental streams: each batch's rows and the position after them commit together.

``UPSERT`` copies the batch into a temporary table, then inserts it, replacing
rows with the same key; ``APPEND`` copies it straight into the table. Either
way the transaction ends by taking the stream's state row (a newer attempt's
open waits for that moment only; a superseded attempt stops there and its rows
are rolled back) and storing the batch's end position. A batch whose end is
the committed position is already in (its commit's answer was lost): it is
skipped, so nothing is appended twice. Storing is a compare-and-set: when the
committed position is not the one this attempt last saw (another attempt
holding the same epoch moved it on), the batch writes nothing and raises
``Superseded``.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from thedata.adapters.connectors.postgres.copying import copy_batch
from thedata.adapters.connectors.postgres.destination import Destination, drain
from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.adapters.connectors.postgres.tables import columns_sql, upsert_sql
from thedata.application.ports.streams import (
    Batch,
    Fingerprint,
    FrameFormat,
    Position,
    StreamFailed,
    WriteMode,
    Written,
)

BATCH_TABLE = sql.Identifier("pg_temp", "_thedata_batch")


class IncrementalStream:
    """An open ``UPSERT`` or ``APPEND`` stream."""

    def __init__(self, destination: Destination, mode: WriteMode, position: Position | None):
        self._destination, self._mode, self._position = destination, mode, position
        self._merge = (
            upsert_sql(destination.table.sql, destination.shape, BATCH_TABLE)
            if mode is WriteMode.UPSERT
            else None
        )
        self._batch_table_ready = False

    async def prepare(self) -> None:
        """Nothing to do before the first batch (a run with nothing new stays cheap)."""

    async def _batch_table(self) -> None:
        """Create the session's batch table once, before the first upsert's transaction."""
        if self._merge is not None and not self._batch_table_ready:
            await self._destination.connection.execute(
                sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DELETE ROWS").format(
                    BATCH_TABLE, columns_sql(self._destination.shape)
                )
            )
            self._batch_table_ready = True

    @property
    def position(self) -> Position | None:
        return self._position

    @property
    def formats(self) -> tuple[FrameFormat, ...]:
        return self._destination.formats

    async def write(self, batch: Batch) -> Written:
        destination = self._destination
        destination.accept(batch)
        if batch.end is None and self._mode is WriteMode.APPEND:
            raise StreamFailed("an appended batch must say where it ends, or it could land twice")
        connection, state = destination.connection, destination.state
        already_in = False
        with translated():
            await self._batch_table()
            committed = await state.committed(connection)  # a look first, outside a transaction
            if self._already_in(batch, committed):
                await drain(batch)
                self._position = committed
                return Written(0, 0)
            if committed != self._position:  # compare-and-set: another attempt moved it on
                raise state.moved_on()
            async with connection.transaction() as transaction:
                if self._merge is not None:  # a fresh heap: ctid order is arrival order
                    await connection.execute(sql.SQL("TRUNCATE {}").format(BATCH_TABLE))
                target = BATCH_TABLE if self._merge is not None else destination.table.sql
                written = await copy_batch(
                    connection, target, destination.shape.names, batch, destination.encoding
                )
                if self._merge is not None:
                    await connection.execute(self._merge)
                # the row last: a newer open waits only for this moment, not for the COPY
                committed = await state.hold(connection)
                if committed != self._position:
                    if not self._already_in(batch, committed):
                        raise state.moved_on()
                    already_in = True  # the same batch, committed meanwhile: undo ours
                    raise psycopg.Rollback(transaction)
                end = batch.end if batch.end is not None else committed
                await state.save(connection, end)
        if already_in:
            self._position = batch.end
            return Written(0, 0)
        self._position = end
        return written

    @staticmethod
    def _already_in(batch: Batch, committed: Position | None) -> bool:
        """Whether the batch ends where the stream stands: its rows are in already (the answer
        to their commit was lost)."""
        return batch.end is not None and batch.end == committed

    async def fingerprint(self) -> Fingerprint | None:
        return await self._destination.fingerprint()

    async def finish(self) -> None:
        with translated():
            await self._destination.state.still_ours(self._destination.connection)
