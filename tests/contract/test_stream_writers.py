"""One contract for the stream writers (destinations), against a real PostgreSQL.

Every writer keeps a stream's state beside its data and changes both at once,
fences superseded attempts by epoch, publishes a full refresh at once, and
keeps the source's types. A writer's suite subclasses ``StreamWriterContract``
with a way to open it and to read a table back as rows of Python values.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    Shape,
    StreamFailed,
    StreamWriter,
    Superseded,
    WriteMode,
)
from thedata.domain.data_sources import DataSourceKind

ORG = uuid.uuid4()
PIPELINE = "orders-sync"

SHAPE = Shape(
    (Column("id", "bigint", False), Column("updated", "bigint"), Column("note", "text")),
    ("id",),
)
TYPED = Shape(
    (
        Column("id", "bigint", False),
        Column("amount", "numeric(12,2)"),
        Column("at", "timestamp with time zone"),
        Column("day", "date"),
        Column("payload", "jsonb"),
        Column("ref", "uuid"),
        Column("blob", "bytea"),
        Column("tags", "text[]"),
        Column("ok", "boolean"),
        Column("note", "text"),
    ),
    ("id",),
)
TYPED_ROWS = [
    (
        1,
        Decimal("1234567890.12"),
        datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
        date(2024, 1, 1),
        {"a": [1, 2, {"b": None}], "é": "ü"},
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"\x00\xff\x10binary",
        ["x", "y z", 'quote"d', None],
        True,
        "line\nbreak\ttab\\slash",
    ),
    (2, None, None, None, None, None, None, None, None, None),
]


def at(cursor: int) -> Position:
    """The position after the row whose ``updated`` and ``id`` are ``cursor``."""
    return Position(str(cursor), (str(cursor),))


async def _frames(rows: Sequence[tuple[Any, ...]]) -> AsyncIterator[tuple[object, ...]]:
    for row in rows:
        yield row


def rows_batch(rows: Sequence[tuple[Any, ...]], end: Position | None = None) -> Batch:
    """A batch of rows (the format every writer takes)."""
    return Batch(FrameFormat.ROWS, _frames(rows), end)


def orders(*ids: int) -> list[tuple[Any, ...]]:
    """Rows of SHAPE: ``id`` and ``updated`` equal, a note naming the id."""
    return [(i, i, f"order {i}") for i in ids]


class Crash(Exception):
    """The attempt died here."""


async def _crashing(rows: Sequence[tuple[Any, ...]]) -> AsyncIterator[tuple[object, ...]]:
    for row in rows:
        yield row
    raise Crash


class StreamWriterContract(ABC):
    """What every destination does with streams written into it."""

    @abstractmethod
    def writer(self) -> StreamWriter:
        """A writer to the destination under test."""

    @abstractmethod
    async def rows(self, table: str) -> list[tuple[Any, ...]]:
        """The table's rows as Python values, in column order, sorted; ``[]`` if it is absent."""

    @abstractmethod
    async def columns(self, table: str) -> list[tuple[str, str]]:
        """The table's columns and their types, in order."""

    async def test_appended_rows_and_their_position_commit_together(self) -> None:
        """After a batch the destination holds its rows, and the next open reads its end back."""
        async with self.writer().open(PIPELINE, "log", "log", SHAPE, WriteMode.APPEND, 1) as sink:
            before = sink.position
            assert before is None
            written = await sink.write(rows_batch(orders(1, 2), at(2)))
            assert written.rows == 2
            assert sink.position == at(2)
            await sink.write(rows_batch(orders(3), at(3)))
            await sink.finish()
        async with self.writer().open(PIPELINE, "log", "log", SHAPE, WriteMode.APPEND, 2) as sink:
            assert sink.position == at(3)
        assert await self.rows("log") == orders(1, 2, 3)

    async def test_an_upsert_replaces_the_row_with_the_same_key(self) -> None:
        """A row whose key is already there replaces it; others are inserted."""
        writer = self.writer()
        async with writer.open(PIPELINE, "o", "orders", SHAPE, WriteMode.UPSERT, 1) as sink:
            await sink.write(rows_batch(orders(1, 2), at(2)))
            await sink.write(rows_batch([(1, 3, "changed"), (3, 3, "order 3")], at(3)))
            await sink.finish()
        expected = [(1, 3, "changed"), (2, 2, "order 2"), (3, 3, "order 3")]
        assert await self.rows("orders") == expected

    async def test_a_batch_that_fails_midway_leaves_neither_rows_nor_position(self) -> None:
        """An exception while a batch is written commits none of it, nor its end."""
        writer = self.writer()
        for mode in (WriteMode.APPEND, WriteMode.UPSERT):
            table = f"crash_{mode.value}"
            async with writer.open(PIPELINE, table, table, SHAPE, mode, 1) as sink:
                await sink.write(rows_batch(orders(1), at(1)))
                with pytest.raises(Crash):
                    await sink.write(Batch(FrameFormat.ROWS, _crashing(orders(2, 3)), at(3)))
            async with writer.open(PIPELINE, table, table, SHAPE, mode, 1) as sink:
                assert sink.position == at(1)
            assert await self.rows(table) == orders(1)

    async def test_a_batch_sent_again_after_its_commit_is_not_appended_twice(self) -> None:
        """A batch whose end is the committed position is already in: it writes nothing."""
        writer = self.writer()
        async with writer.open(PIPELINE, "log", "log", SHAPE, WriteMode.APPEND, 1) as sink:
            await sink.write(rows_batch(orders(1, 2), at(2)))
        # the answer to that commit was lost: the same attempt opens again and sends it again
        async with writer.open(PIPELINE, "log", "log", SHAPE, WriteMode.APPEND, 1) as sink:
            assert sink.position == at(2)
            assert (await sink.write(rows_batch(orders(1, 2), at(2)))).rows == 0
            await sink.write(rows_batch(orders(3), at(3)))
            await sink.finish()
        assert await self.rows("log") == orders(1, 2, 3)

    @pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT, WriteMode.REPLACE])
    async def test_a_larger_epoch_fences_the_older_attempt(self, mode: WriteMode) -> None:
        """Once a later attempt opens, the older one's writes and finish raise: nothing changes."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as old:
            await old.write(rows_batch(orders(1), at(1)))
            if mode is WriteMode.REPLACE:
                await old.finish()
            async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 2) as new:
                if mode is not WriteMode.REPLACE:
                    assert new.position == at(1)
                with pytest.raises(Superseded) as refused:
                    await old.write(rows_batch(orders(2), at(2)))
                assert refused.value.holder == 2
                with pytest.raises(Superseded):
                    await old.finish()
        assert await self.rows("t") == orders(1)

    async def test_a_replace_loaded_by_a_superseded_attempt_is_never_published(self) -> None:
        """An older attempt's full refresh, loaded before the newer one opened, fails at finish."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as old:
            await old.write(rows_batch(orders(1, 2)))
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2):
                pass
            with pytest.raises(Superseded):
                await old.finish()
        assert await self.rows("t") == []

    @pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT])
    async def test_two_attempts_holding_one_epoch_never_both_write(self, mode: WriteMode) -> None:
        """Two attempts opened with the same epoch: once one moved the position on, the
        other's batches write nothing (Superseded), except one ending where it stands (in)."""
        writer = self.writer()
        async with (
            writer.open(PIPELINE, "s", "t", SHAPE, mode, 7) as first,
            writer.open(PIPELINE, "s", "t", SHAPE, mode, 7) as second,
        ):
            assert (first.position, second.position) == (None, None)
            await first.write(rows_batch(orders(1, 2), at(2)))
            await first.write(rows_batch(orders(3, 4), at(4)))
            with pytest.raises(Superseded):  # its own read of the same rows, cut otherwise
                await second.write(rows_batch(orders(1, 2, 3), at(3)))
            with pytest.raises(Superseded):
                await second.write(rows_batch(orders(5), at(5)))
            assert (await second.write(rows_batch(orders(1, 2, 3, 4), at(4)))).rows == 0
            assert second.position == at(4)
            await second.write(rows_batch(orders(5), at(5)))
            with pytest.raises(Superseded):
                await first.write(rows_batch(orders(5, 6), at(6)))
        assert await self.rows("t") == orders(1, 2, 3, 4, 5)

    async def test_a_stream_redefined_starts_over(self) -> None:
        """A position belongs to the table, mode and key it was stored for: a stream opened for
        another table, mode or key starts from the beginning; unchanged, it resumes."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 1) as sink:
            await sink.write(rows_batch(orders(1, 2), at(2)))
        async with writer.open(PIPELINE, "s", "t2", SHAPE, WriteMode.UPSERT, 2) as sink:
            assert sink.position is None
            await sink.write(rows_batch(orders(1, 2, 3), at(3)))
        async with writer.open(PIPELINE, "s", "t2", SHAPE, WriteMode.UPSERT, 3) as sink:
            assert sink.position == at(3)
        unkeyed = Shape(SHAPE.columns)
        async with writer.open(PIPELINE, "s", "t2", unkeyed, WriteMode.APPEND, 4) as sink:
            assert sink.position is None
            await sink.write(rows_batch([], Position("0")))
        rekeyed = Shape(SHAPE.columns, ("id", "updated"))
        async with writer.open(PIPELINE, "s", "t3", rekeyed, WriteMode.UPSERT, 5) as sink:
            await sink.write(rows_batch(orders(1), Position("1", ("1", "1"))))
        reordered = Shape(SHAPE.columns, ("updated", "id"))  # the position's key is in order
        async with writer.open(PIPELINE, "s", "t3", reordered, WriteMode.UPSERT, 6) as sink:
            assert sink.position is None
        assert await self.rows("t2") == orders(1, 2, 3)

    async def test_an_equal_epoch_resumes_and_a_smaller_one_is_refused(self) -> None:
        """The same attempt may open again; an older one is Superseded at open."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 5) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 5) as sink:
            await sink.write(rows_batch(orders(2), at(2)))
        with pytest.raises(Superseded) as refused:
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 4):
                pass
        assert refused.value.holder == 5  # the epoch that holds it, for the run to go past
        assert await self.rows("t") == orders(1, 2)

    async def test_epochs_are_per_stream(self) -> None:
        """Another stream of the pipeline, or the same stream of another pipeline, is not fenced."""
        writer = self.writer()
        async with writer.open(PIPELINE, "a", "a", SHAPE, WriteMode.APPEND, 9):
            pass
        async with writer.open(PIPELINE, "b", "b", SHAPE, WriteMode.APPEND, 1) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
        async with writer.open("other", "a", "a2", SHAPE, WriteMode.APPEND, 1) as sink:
            await sink.write(rows_batch(orders(1), at(1)))

    async def test_a_full_refresh_appears_only_at_finish(self) -> None:
        """Until finish the table holds what it held; after it, exactly the new rows."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
            await sink.write(rows_batch(orders(1, 2, 3)))
            await sink.finish()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as sink:
            await sink.write(rows_batch(orders(7)))
            await sink.write(rows_batch(orders(8)))
            assert await self.rows("t") == orders(1, 2, 3)
            await sink.finish()
        assert await self.rows("t") == orders(7, 8)

    async def test_a_full_refresh_that_dies_changes_nothing(self) -> None:
        """An attempt that ends before finish leaves the old table as it was."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
            await sink.write(rows_batch(orders(1)))
            await sink.finish()
        with pytest.raises(Crash):
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as sink:
                await sink.write(rows_batch(orders(5, 6)))
                raise Crash
        assert await self.rows("t") == orders(1)

    @pytest.mark.parametrize("mode", [WriteMode.UPSERT, WriteMode.APPEND, WriteMode.REPLACE])
    async def test_types_are_kept(self, mode: WriteMode) -> None:
        """numeric(12,2), timestamptz, jsonb, uuid, bytea, text[]... come back as they went in."""
        async with self.writer().open(PIPELINE, "typed", "typed", TYPED, mode, 1) as sink:
            await sink.write(rows_batch(TYPED_ROWS, at(2)))
            await sink.finish()
        assert await self.columns("typed") == [(c.name, c.type) for c in TYPED.columns]
        assert await self.rows("typed") == TYPED_ROWS

    @pytest.mark.parametrize("mode", [WriteMode.UPSERT, WriteMode.APPEND, WriteMode.REPLACE])
    async def test_a_new_source_column_is_added(self, mode: WriteMode) -> None:
        """A column the source gained appears in the table; older rows hold NULL there."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
            await sink.finish()
        wider = Shape((*SHAPE.columns, Column("extra", "integer")), SHAPE.primary_key)
        async with writer.open(PIPELINE, "s", "t", wider, mode, 2) as sink:
            await sink.write(rows_batch([(2, 2, "order 2", 8)], at(2)))
            await sink.finish()
        assert await self.columns("t") == [(c.name, c.type) for c in wider.columns]
        kept = [] if mode is WriteMode.REPLACE else [(1, 1, "order 1", None)]
        assert await self.rows("t") == [*kept, (2, 2, "order 2", 8)]

    @pytest.mark.parametrize("mode", [WriteMode.UPSERT, WriteMode.APPEND, WriteMode.REPLACE])
    async def test_a_dropped_or_retyped_column_fails_naming_it(self, mode: WriteMode) -> None:
        """A column the table holds that the source dropped, or sends with another type, fails
        the stream with an error naming it; nothing changes."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
            await sink.finish()
        dropped = Shape(SHAPE.columns[:2], SHAPE.primary_key)
        retyped = Shape((*SHAPE.columns[:2], Column("note", "integer")), SHAPE.primary_key)
        for shape in (dropped, retyped):
            with pytest.raises(StreamFailed, match="'note'") as failed:
                async with writer.open(PIPELINE, "s", "t", shape, mode, 2) as sink:
                    await sink.write(rows_batch([row[: len(shape.columns)] for row in orders(2)]))
                    await sink.finish()
            assert not failed.value.retryable
        assert await self.rows("t") == orders(1)

    async def test_a_name_longer_than_63_bytes_is_refused_not_shortened(self) -> None:
        """A 64-byte table or column name fails the stream; 63 bytes is fine."""
        writer = self.writer()
        with pytest.raises(StreamFailed, match="63 bytes"):
            async with writer.open(PIPELINE, "s", "t" * 64, SHAPE, WriteMode.APPEND, 1):
                pass
        long_column = Shape((Column("é" * 32, "text"),))  # 64 bytes in UTF-8, 32 characters
        with pytest.raises(StreamFailed, match="63 bytes"):
            async with writer.open(PIPELINE, "s", "t", long_column, WriteMode.APPEND, 1):
                pass
        async with writer.open(PIPELINE, "s", "t" * 63, SHAPE, WriteMode.APPEND, 1) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
        assert await self.rows("t" * 63) == orders(1)

    @pytest.mark.parametrize("mode", [WriteMode.UPSERT, WriteMode.APPEND, WriteMode.REPLACE])
    async def test_a_table_named_like_the_engines_own_is_refused(self, mode: WriteMode) -> None:
        """A destination named ``_thedata_...`` (the state table, a load table) fails the
        stream for good, before anything is written; other streams' state is untouched."""
        writer = self.writer()
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 5) as sink:
            await sink.write(rows_batch(orders(1), at(1)))
        state = Shape(
            (
                Column("pipeline", "text", False),
                Column("stream", "text", False),
                Column("epoch", "bigint", False),
                Column("position", "jsonb"),
                Column("updated_at", "timestamp with time zone", False),
            ),
            ("pipeline", "stream"),
        )
        for table in ("_thedata_state", "_thedata_load_x", "_TheData_state"):
            with pytest.raises(StreamFailed, match="_thedata_") as refused:
                async with writer.open("evil", "e", table, state, mode, 1) as sink:
                    now = datetime.now(UTC)
                    await sink.write(rows_batch([(PIPELINE, "s", 1, None, now)], at(9)))
                    await sink.finish()
            assert not refused.value.retryable
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 5) as sink:
            assert sink.position == at(1)
        with pytest.raises(Superseded):
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 4):
                pass

    async def test_a_name_with_a_dot_or_quotes_is_one_name(self) -> None:
        """'sales.orders' is a table of that name, not a table in schema 'sales'."""
        writer = self.writer()
        odd = Shape((Column('we"ird.col', "text"), Column("id", "bigint")), ("id",))
        for table in ("sales.orders", 'Mixed "Case"; drop table t'):
            async with writer.open(PIPELINE, table, table, odd, WriteMode.UPSERT, 1) as sink:
                await sink.write(rows_batch([("x", 1)], at(1)))
            assert await self.rows(table) == [("x", 1)]
            assert [name for name, _ in await self.columns(table)] == ['we"ird.col', "id"]


def postgres_writer_for(
    factory: DefaultConnectorFactory, config: dict[str, Any], **changes: Any
) -> StreamWriter:
    """The postgres kind's writer for ``config``, validated as the service does."""
    validated = factory.validate(ORG, DataSourceKind.POSTGRES, config | changes)
    return factory.writer(ORG, DataSourceKind.POSTGRES, validated.config, {})


async def read_rows(url: str, table: str, schema: str = "public") -> list[tuple[Any, ...]]:
    """``table``'s rows sorted, read straight from the server; ``[]`` if it is absent."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        found = await connection.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (schema, table),
        )
        if await found.fetchone() is None:
            return []
        cursor = await connection.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(sql.Identifier(schema, table))
        )
        return await cursor.fetchall()


async def read_columns(url: str, table: str, schema: str = "public") -> list[tuple[str, str]]:
    """``table``'s columns and their types as ``format_type`` spells them."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (sql.Identifier(schema, table).as_string(connection),),
        )
        return [(str(name), str(spelled)) for name, spelled in await cursor.fetchall()]


@contextmanager
def postgres_destination(
    database_url: str, control_url: str, tmp_path: Path
) -> Iterator[tuple[DefaultConnectorFactory, dict[str, Any]]]:
    """A factory and a postgres config for ``database_url`` (on the sources' server), over TCP;
    the server at ``control_url`` plays the control database's."""
    factory = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 5, control_database=control_url
    )
    with tcp_endpoint(database_url) as (host, port, database, user):
        yield factory, {"host": host, "port": port, "database": database, "user": user}


class TestPostgresStreamWriter(StreamWriterContract):
    """The contract on a real PostgreSQL, reached over TCP as a data source."""

    @pytest.fixture(autouse=True)
    def _destination(
        self, source_database_url: str, postgres_server_url: str, tmp_path: Path
    ) -> Iterator[None]:
        self.url = source_database_url
        with postgres_destination(source_database_url, postgres_server_url, tmp_path) as (
            self.factory,
            self.config,
        ):
            yield

    def writer(self) -> StreamWriter:
        return postgres_writer_for(self.factory, self.config)

    async def rows(self, table: str) -> list[tuple[Any, ...]]:
        return await read_rows(self.url, table)

    async def columns(self, table: str) -> list[tuple[str, str]]:
        return await read_columns(self.url, table)
