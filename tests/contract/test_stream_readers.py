"""One contract for the stream readers (sources), run on a real PostgreSQL.

Every reader gives a stream's shape, reads it whole in batches of at most
``batch_rows`` rows, and reads it incrementally in ``(cursor, key)`` order
after a position, each batch with where the read stands after it, exactly on
ties. A reader's suite subclasses ``StreamReaderContract`` with a way to make
the contract's ``orders`` stream (``id``, ``updated``, ``note``) and to add
rows to it; a reader that produces PostgreSQL binary COPY or CSV frames also
says how to decode them (JSON Lines are read by Python's own ``json``).
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import sql

from tests.conftest import tcp_endpoint
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.ports import (
    Batch,
    Column,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
    StreamReader,
)
from thedata.domain.data_sources import DataSourceKind

ORG = uuid.uuid4()
Row = tuple[Any, ...]


def orders(*ids: int, updated: int | None = None) -> list[Row]:
    """Rows of ``orders``: ``updated`` is the id unless given (a tie for all of them)."""
    return [(i, i if updated is None else updated, f"order {i}") for i in ids]


class StreamReaderContract(ABC):
    """What every source does when its streams are read."""

    shape: ClassVar[Shape]
    """``orders`` as the kind describes it: ``id`` (the key), ``updated``, ``note``."""

    @abstractmethod
    def reader(self) -> StreamReader:
        """A reader of the source under test."""

    @abstractmethod
    async def create(self, stream: str, rows: Sequence[Row]) -> None:
        """Make the stream ``stream`` with the columns of ``orders``, holding ``rows``."""

    @abstractmethod
    async def add(self, stream: str, rows: Sequence[Row]) -> None:
        """Add ``rows`` to the stream (as new rows committed now)."""

    async def decode_binary(self, payload: bytes, shape: Shape) -> list[Row]:
        """The rows of one binary COPY payload (readers that produce it say how)."""
        raise NotImplementedError

    async def decode_csv(self, payload: bytes, shape: Shape) -> list[Row]:
        """The rows of CSV frames (readers that produce them say how)."""
        raise NotImplementedError

    @staticmethod
    def decode_json_lines(payload: bytes, shape: Shape) -> list[Row]:
        """The rows of JSON Lines: every line one object keyed by exactly the column names (the
        contract's columns are numbers and strings, which JSON carries as they are)."""
        assert not payload or payload.endswith(b"\n")
        rows = []
        for line in payload.split(b"\n")[:-1]:
            found = json.loads(line)
            assert isinstance(found, dict)
            assert list(found) == list(shape.names)
            rows.append(tuple(found.values()))
        return rows

    async def batch_rows(self, batch: Batch, shape: Shape) -> list[Row]:
        """The batch's rows as Python values, consuming its frames."""
        if batch.format is FrameFormat.ROWS:
            return [tuple(row) async for row in batch.frames]
        payload = bytearray()
        async for chunk in batch.frames:
            assert isinstance(chunk, bytes | bytearray | memoryview)
            payload += chunk
        if batch.format is FrameFormat.CSV:
            return await self.decode_csv(bytes(payload), shape)
        if batch.format is FrameFormat.JSON_LINES:
            return self.decode_json_lines(bytes(payload), shape)
        return await self.decode_binary(bytes(payload), shape)

    async def read_all(
        self, stream: str, plan: ReadPlan
    ) -> list[tuple[list[Row], Position | None]]:
        """Each batch of a read: its rows and its end."""
        read = []
        async with self.reader().read(stream, plan) as batches:
            async for batch in batches:
                assert batch.format is plan.format
                read.append((await self.batch_rows(batch, plan.shape), batch.end))
        return read

    def formats(self) -> list[FrameFormat]:
        return list(self.reader().formats)

    async def test_the_shape_has_the_columns_in_order_with_the_key(self) -> None:
        """shape() gives every column with its type and nullability, and the primary key."""
        await self.create("orders", [])
        assert await self.reader().shape("orders") == self.shape

    async def test_a_missing_stream_fails_for_good_with_a_message(self) -> None:
        """A stream the source does not have is a StreamFailed that retrying will not fix."""
        reader = self.reader()
        with pytest.raises(StreamFailed) as failed:
            await reader.shape("no_such_stream")
        assert not failed.value.retryable
        assert "no_such_stream" in str(failed.value)
        plan = ReadPlan(self.shape, reader.formats[0], 10)
        with pytest.raises(StreamFailed):
            async with reader.read("no_such_stream", plan) as batches:
                _ = [batch async for batch in batches]

    async def test_a_full_read_gives_every_row_in_bounded_batches(self) -> None:
        """Without a cursor every row comes once, in batches of at most batch_rows, no end."""
        await self.create("orders", orders(*range(1, 8)))
        for frame_format in self.formats():
            read = await self.read_all("orders", ReadPlan(self.shape, frame_format, 3))
            assert all(len(rows) <= 3 and end is None for rows, end in read)
            assert sorted(row for rows, _ in read for row in rows) == orders(*range(1, 8))

    async def test_an_incremental_read_orders_by_cursor_then_key(self) -> None:
        """Rows come in (cursor, key) order, each batch ending at its last row's text forms."""
        await self.create("orders", [(3, 20, "c"), (1, 20, "a"), (2, 10, "b"), (4, 5, "d")])
        for frame_format in self.formats():
            plan = ReadPlan(self.shape, frame_format, 2, cursor_field="updated")
            read = await self.read_all("orders", plan)
            assert [rows for rows, _ in read] == [
                [(4, 5, "d"), (2, 10, "b")],
                [(1, 20, "a"), (3, 20, "c")],
            ]
            ends = [end for _, end in read]
            assert [(e.cursor, e.key) for e in ends if e is not None] == [
                ("10", ("2",)),
                ("20", ("3",)),
            ]

    async def test_ties_across_a_batch_boundary_are_neither_lost_nor_repeated(self) -> None:
        """Resuming after any batch of a read that cut through rows sharing a cursor value
        gives exactly the rows that batch did not hold."""
        everything = orders(1, 2, 3, 4, 5, updated=7)
        await self.create("orders", everything)
        for frame_format in self.formats():
            plan = ReadPlan(self.shape, frame_format, 2, cursor_field="updated")
            read = await self.read_all("orders", plan)
            assert [row for rows, _ in read for row in rows] == everything
            for done, (_, end) in enumerate(read[:-1]):
                resumed = ReadPlan(self.shape, frame_format, 2, cursor_field="updated", after=end)
                rest = [row for rows, _ in await self.read_all("orders", resumed) for row in rows]
                assert rest == everything[2 * (done + 1) :]

    async def test_a_later_read_gives_only_what_came_after_the_position(self) -> None:
        """Rows added after a read come next time, ties with the position included, once."""
        await self.create("orders", orders(1, 2, 3, updated=5))
        plan = ReadPlan(self.shape, self.formats()[0], 10, cursor_field="updated")
        first = await self.read_all("orders", plan)
        end = first[-1][1]
        await self.add("orders", [(9, 5, "tie, larger key"), (0, 6, "later cursor")])
        again = ReadPlan(self.shape, self.formats()[0], 10, cursor_field="updated", after=end)
        second = [row for rows, _ in await self.read_all("orders", again) for row in rows]
        assert second == [(9, 5, "tie, larger key"), (0, 6, "later cursor")]

    async def test_a_null_cursor_fails_the_stream_naming_the_column(self) -> None:
        """A row whose cursor is NULL is never skipped: the read fails and says which column."""
        await self.create("orders", [*orders(1, 2), (3, None, "no cursor")])
        plan = ReadPlan(self.shape, self.formats()[0], 10, cursor_field="updated")
        with pytest.raises(StreamFailed, match="'updated'") as failed:
            await self.read_all("orders", plan)
        assert not failed.value.retryable


# --- PostgreSQL ------------------------------------------------------------------------------


@contextmanager
def postgres_source(
    database_url: str, control_url: str, tmp_path: Path
) -> Iterator[tuple[DefaultConnectorFactory, dict[str, Any]]]:
    """A factory and a postgres config for ``database_url`` (on the sources' server), over TCP,
    with the test server playing the control database."""
    factory = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 5, control_database=control_url
    )
    with tcp_endpoint(database_url) as (host, port, database, user):
        yield factory, {"host": host, "port": port, "database": database, "user": user}


def postgres_reader_for(factory: DefaultConnectorFactory, config: dict[str, Any]) -> StreamReader:
    """The postgres stream reader for ``config``."""
    validated = factory.validate(ORG, DataSourceKind.POSTGRES, config)
    return factory.reader(ORG, DataSourceKind.POSTGRES, validated.config, {})


async def decode_binary_copy(
    database_url: str, payload: bytes, shape: Shape, options: str = "FORMAT binary"
) -> list[Row]:
    """The rows of a binary COPY payload (or of another COPY format, by its ``options``),
    loaded by PostgreSQL itself into a temporary table with the shape's types (which also
    proves the payload is one a server accepts)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in shape.columns
    )
    names = sql.SQL(", ").join(map(sql.Identifier, shape.names))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
        await c.execute(sql.SQL("CREATE TEMP TABLE _decoded (_n serial, {})").format(columns))
        async with c.cursor().copy(
            sql.SQL("COPY _decoded ({}) FROM STDIN ({})").format(names, sql.SQL(options))
        ) as copy:
            await copy.write(payload)
        query = sql.SQL("SELECT {} FROM _decoded ORDER BY _n").format(names)
        return list(await (await c.execute(query)).fetchall())


class TestPostgresStreamReader(StreamReaderContract):
    """The contract on a real PostgreSQL, reached over TCP as a data source."""

    shape = Shape(
        (Column("id", "bigint", False), Column("updated", "bigint"), Column("note", "text")),
        ("id",),
    )

    @pytest.fixture(autouse=True)
    def _source(
        self, source_database_url: str, postgres_server_url: str, tmp_path: Path
    ) -> Iterator[None]:
        self.url = source_database_url
        with postgres_source(source_database_url, postgres_server_url, tmp_path) as (
            self.factory,
            self.config,
        ):
            yield

    def reader(self) -> StreamReader:
        return postgres_reader_for(self.factory, self.config)

    async def create(self, stream: str, rows: Sequence[Row]) -> None:
        table = "CREATE TABLE {} (id bigint PRIMARY KEY, updated bigint, note text)"
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c:
            await c.execute(sql.SQL(table).format(sql.Identifier(stream)))
        await self.add(stream, rows)

    async def add(self, stream: str, rows: Sequence[Row]) -> None:
        statement = sql.SQL("COPY {} (id, updated, note) FROM STDIN").format(sql.Identifier(stream))
        async with (
            await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c,
            c.cursor().copy(statement) as copy,
        ):
            for row in rows:
                await copy.write_row(row)

    async def decode_binary(self, payload: bytes, shape: Shape) -> list[Row]:
        return await decode_binary_copy(self.url, payload, shape)

    async def decode_csv(self, payload: bytes, shape: Shape) -> list[Row]:
        return await decode_binary_copy(self.url, payload, shape, "FORMAT csv")
