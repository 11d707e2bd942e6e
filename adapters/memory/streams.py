"""Streams in memory: a reader and a writer that keep the engine's protocol, rows only.

For unit tests of the engine and for library users without a database. The
writer keeps each stream's state (epoch and position) beside its tables and
changes both together, as the real destinations do, so the same exactly-once
and fencing properties can be tested here in microseconds. Cursor and key
values are integers or strings; positions hold their text forms, as everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from attrs import define, field

from thedata.application.fingerprint import FingerprintBuilder
from thedata.application.ports import (
    Batch,
    Fingerprint,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
    Superseded,
    WriteMode,
    Written,
)

Row = tuple[Any, ...]


@define
class InMemoryTable:
    """A table: its shape and its rows in insertion order."""

    shape: Shape
    rows: list[Row] = field(factory=list)


@define
class InMemoryDatabase:
    """Tables by name, and the streams' state ``(pipeline, stream) -> (epoch, position)``."""

    tables: dict[str, InMemoryTable] = field(factory=dict)
    state: dict[tuple[str, str], tuple[int, Position | None]] = field(factory=dict)
    definitions: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = field(factory=dict)
    """What each stream's position was stored for (table, mode, key): another one starts over,
    as in the real destinations."""


def _value(text: str, type_name: str) -> Any:
    return int(text) if type_name in ("integer", "bigint", "smallint") else text


def _text(value: Any) -> str:
    return str(value)


class InMemoryStreamReader:
    """Reads tables of an ``InMemoryDatabase`` (a copy taken at ``read`` is the snapshot)."""

    formats: Sequence[FrameFormat] = (FrameFormat.ROWS,)

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def shape(self, stream: str) -> Shape:
        table = self._database.tables.get(stream)
        if table is None:
            raise StreamFailed(f"the source has no table {stream!r}")
        return table.shape

    async def estimate(self, stream: str) -> int | None:
        table = self._database.tables.get(stream)
        return None if table is None else len(table.rows)

    @asynccontextmanager
    async def read(self, stream: str, plan: ReadPlan) -> AsyncIterator[AsyncIterator[Batch]]:
        table = self._database.tables.get(stream)
        if table is None:
            raise StreamFailed(f"the source has no table {stream!r}")
        indexes = [table.shape.names.index(name) for name in plan.shape.names]
        rows = [tuple(row[i] for i in indexes) for row in table.rows]
        yield self._batches(rows, plan)
        if plan.fingerprint is not None:
            plan.fingerprint(fingerprint_of(rows))

    async def _batches(self, rows: list[Row], plan: ReadPlan) -> AsyncIterator[Batch]:
        if plan.cursor_field is None:  # a full refresh: batches of the table as it is
            for start in range(0, len(rows), plan.batch_rows):
                yield Batch(FrameFormat.ROWS, _frames(rows[start : start + plan.batch_rows]))
            return
        names = plan.shape.names
        order = [names.index(plan.cursor_field), *(names.index(k) for k in plan.shape.primary_key)]
        if any(row[order[0]] is None for row in rows):
            raise StreamFailed(f"the cursor column {plan.cursor_field!r} holds NULL values")
        types = [plan.shape.columns[i].type for i in order]

        def sort_key(row: Row) -> tuple[Any, ...]:
            return tuple(row[i] for i in order)

        after = plan.after
        if after is not None:
            bound = tuple(
                _value(text, type_)
                for text, type_ in zip((after.cursor, *after.key), types, strict=True)
            )
            rows = [row for row in rows if sort_key(row) > bound]
        rows.sort(key=sort_key)
        for start in range(0, len(rows), plan.batch_rows):
            chunk = rows[start : start + plan.batch_rows]
            last = sort_key(chunk[-1])
            end = Position(_text(last[0]), tuple(_text(v) for v in last[1:]))
            yield Batch(FrameFormat.ROWS, _frames(chunk), end)


def fingerprint_of(rows: list[Row]) -> Fingerprint:
    """The rows' fingerprint, each value's text form its ``str``."""
    builder = FingerprintBuilder()
    for row in rows:
        builder.add(None if value is None else _text(value) for value in row)
    return builder.result()


async def _frames(rows: list[Row]) -> AsyncIterator[tuple[object, ...]]:
    for row in rows:
        yield row


class _Sink:
    """One attempt's hold on a destination stream of an ``InMemoryDatabase``."""

    formats: Sequence[FrameFormat] = (FrameFormat.ROWS,)

    def __init__(
        self,
        database: InMemoryDatabase,
        key: tuple[str, str],
        table: str,
        shape: Shape,
        mode: WriteMode,
        epoch: int,
    ) -> None:
        self._database, self._key, self._table = database, key, table
        self._shape, self._mode, self._epoch = shape, mode, epoch
        self._staged: list[Row] = []

    @property
    def position(self) -> Position | None:
        return self._database.state[self._key][1]

    def _fence(self) -> None:
        holder = self._database.state[self._key][0]
        if holder != self._epoch:
            raise Superseded("a later attempt took this stream over", holder=holder)

    async def write(self, batch: Batch) -> Written:
        rows = [tuple(row) async for row in batch.frames]
        size = sum(len(repr(row)) for row in rows)
        if self._mode is WriteMode.REPLACE:
            self._staged.extend(rows)
            return Written(len(rows), size)
        self._fence()
        table = self._database.tables[self._table]
        if self._mode is WriteMode.APPEND:
            table.rows.extend(rows)
        else:
            key = [self._shape.names.index(k) for k in self._shape.primary_key]
            by_key = {tuple(r[i] for i in key): n for n, r in enumerate(table.rows)}
            for row in rows:
                found = by_key.get(tuple(row[i] for i in key))
                if found is None:
                    by_key[tuple(row[i] for i in key)] = len(table.rows)
                    table.rows.append(row)
                else:
                    table.rows[found] = row
        # the rows and the position change together: one step, nothing can come between
        self._database.state[self._key] = (self._epoch, batch.end)
        return Written(len(rows), size)

    async def fingerprint(self) -> Fingerprint | None:
        table = self._database.tables[self._table]
        indexes = [table.shape.names.index(name) for name in self._shape.names]
        return fingerprint_of([tuple(row[i] for i in indexes) for row in table.rows])

    async def finish(self) -> None:
        if self._mode is WriteMode.REPLACE:
            self._fence()
            self._database.tables[self._table] = InMemoryTable(self._shape, self._staged)
            # as the real destinations do: a full refresh holds no read position
            self._database.state[self._key] = (self._epoch, None)
            self._staged = []


class InMemoryStreamWriter:
    """Writes tables of an ``InMemoryDatabase``, with its streams' state beside them."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @asynccontextmanager
    async def open(
        self, pipeline: str, stream: str, table: str, shape: Shape, mode: WriteMode, epoch: int
    ) -> AsyncIterator[_Sink]:
        key = (pipeline, stream)
        stored_epoch, position = self._database.state.get(key, (0, None))
        if stored_epoch > epoch:
            raise Superseded("a later attempt holds this stream", holder=stored_epoch)
        definition = (table, mode.value, tuple(shape.primary_key))
        if self._database.definitions.get(key, definition) != definition:
            position = None
        self._database.definitions[key] = definition
        self._database.state[key] = (epoch, position)
        existing = self._database.tables.get(table)
        if existing is None:
            self._database.tables[table] = InMemoryTable(shape)
        elif existing.shape.columns != shape.columns:
            raise StreamFailed(f"the destination table {table!r} has other columns")
        yield _Sink(self._database, key, table, shape, mode, epoch)
