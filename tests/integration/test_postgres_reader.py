"""The postgres stream reader against a real PostgreSQL: what the contract cannot say.

Types and their spelling, binary COPY payloads and their chunks, one snapshot
per read, memory that does not grow with the table, position texts cast back
per type, rows committed late by transactions (and subtransactions) running at
the previous read, and a property: successive interrupted reads give every row
exactly once.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

import psutil
import psycopg
import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.contract.test_stream_readers import (
    decode_binary_copy,
    postgres_reader_for,
    postgres_source,
)
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.postgres import cursor as incremental_sql
from thedata.adapters.connectors.postgres.copy_out import CHUNK_BYTES, SIGNATURE, TRAILER
from thedata.application.errors import ConnectorMisconfigured
from thedata.application.ports import (
    Batch,
    Column,
    Fingerprint,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
    StreamReader,
)

Row = tuple[Any, ...]
BINARY, ROWS = FrameFormat.POSTGRES_BINARY, FrameFormat.ROWS


@pytest.fixture
def source(
    source_database_url: str, postgres_server_url: str, tmp_path: Path
) -> Iterator[tuple[DefaultConnectorFactory, dict[str, Any]]]:
    """A factory and the config of a postgres data source on the sources' server."""
    with postgres_source(source_database_url, postgres_server_url, tmp_path) as found:
        yield found


@pytest.fixture
def reader(source: tuple[DefaultConnectorFactory, dict[str, Any]]) -> StreamReader:
    """The postgres stream reader of the source."""
    return postgres_reader_for(*source)


def run(url: str, *statements: str | sql.Composed, params: Sequence[Any] | None = None) -> None:
    """Run statements on ``url`` in autocommit (the last one with ``params``)."""
    with psycopg.connect(url, autocommit=True) as connection:
        for n, statement in enumerate(statements):
            connection.execute(statement, params if n == len(statements) - 1 else None)


def select(url: str, query: str | sql.Composed) -> list[Row]:
    """The rows of ``query`` on ``url``."""
    with psycopg.connect(url, autocommit=True) as connection:
        return list(connection.execute(query).fetchall())


async def frames_of(batch: Batch) -> list[Any]:
    """Every frame of the batch."""
    return [frame async for frame in batch.frames]


async def rows_of(url: str, batch: Batch, shape: Shape) -> list[Row]:
    """The batch's rows as Python values, however they travel."""
    frames = await frames_of(batch)
    if batch.format is ROWS:
        return [tuple(frame) for frame in frames]
    return await decode_binary_copy(url, b"".join(frames), shape)


async def read(
    reader: StreamReader, url: str, stream: str, plan: ReadPlan, *, batches: int | None = None
) -> list[tuple[list[Row], Position | None]]:
    """Each batch of a read (only the first ``batches``, as if the attempt died then)."""
    out: list[tuple[list[Row], Position | None]] = []
    async with reader.read(stream, plan) as found:
        async for batch in found:
            out.append((await rows_of(url, batch, plan.shape), batch.end))
            if batches is not None and len(out) == batches:
                break
    return out


def flat(read_batches: list[tuple[list[Row], Position | None]]) -> list[Row]:
    """The rows of every batch, in order."""
    return [row for rows, _ in read_batches for row in rows]


# --- shape ----------------------------------------------------------------------------------


async def test_the_shape_spells_types_as_format_type_with_nullability_and_key_order(
    reader: StreamReader, source_database_url: str
) -> None:
    """Types keep their modifiers (a user type is schema-qualified), NOT NULL columns are not
    nullable, and a composite primary key comes in its index order, not the columns'."""
    run(
        source_database_url,
        "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
        "CREATE TABLE typed (a integer, b varchar(20) NOT NULL, amount numeric(12,2),"
        " at timestamptz, tags text[], doc jsonb, ref uuid, n positive, PRIMARY KEY (b, a))",
    )
    assert await reader.shape("typed") == Shape(
        (
            Column("a", "integer", False),
            Column("b", "character varying(20)", False),
            Column("amount", "numeric(12,2)"),
            Column("at", "timestamp with time zone"),
            Column("tags", "text[]"),
            Column("doc", "jsonb"),
            Column("ref", "uuid"),
            Column("n", "public.positive"),
        ),
        ("b", "a"),
    )


async def test_a_missing_table_fails_for_good_in_our_words(reader: StreamReader) -> None:
    """No such table: StreamFailed, not retryable, naming the table and schema, nothing of the
    driver's text."""
    with pytest.raises(StreamFailed) as failed:
        await reader.shape("absent")
    assert not failed.value.retryable
    assert str(failed.value) == "the source has no table or view 'absent' in schema 'public'"
    plan = ReadPlan(Shape((Column("id", "integer"),)), BINARY, 10)
    with pytest.raises(StreamFailed) as failed_read:
        async with reader.read("absent", plan):
            pass
    assert str(failed_read.value) == str(failed.value)


@pytest.mark.parametrize("name", ["x" * 64, "é" * 32])
async def test_a_name_longer_than_63_bytes_is_refused_not_truncated(
    reader: StreamReader, source_database_url: str, name: str
) -> None:
    """PostgreSQL would truncate the name to a table that exists; the reader refuses it."""
    run(source_database_url, f'CREATE TABLE "{name.encode()[:63].decode(errors="ignore")}" (a int)')
    with pytest.raises(StreamFailed, match="63 bytes"):
        await reader.shape(name)


async def test_a_table_the_user_may_not_read_fails_naming_the_privilege(
    source: tuple[DefaultConnectorFactory, dict[str, Any]], source_database_url: str
) -> None:
    """A user without SELECT gets the privilege message, not the rows nor a driver error."""
    role = f"limited_{uuid.uuid4().hex[:8]}"
    run(source_database_url, f"CREATE ROLE {role} LOGIN", "CREATE TABLE secret (a int)")
    factory, config = source
    limited = postgres_reader_for(factory, config | {"user": role})
    try:
        with pytest.raises(StreamFailed, match="lacks a privilege") as failed:
            await limited.shape("secret")
        assert not failed.value.retryable
    finally:
        run(source_database_url, "DROP TABLE secret", f"DROP ROLE {role}")


async def test_reading_goes_through_the_network_policy(
    source: tuple[DefaultConnectorFactory, dict[str, Any]], tmp_path: Path
) -> None:
    """The reader connects the hardened way: loopback is refused when private networks are."""
    _, config = source
    strict = DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=False), 2, None)
    with pytest.raises(ConnectorMisconfigured, match="not reachable from this server"):
        await postgres_reader_for(strict, config).shape("anything")


# --- full reads -----------------------------------------------------------------------------

WIDE = Shape((Column("id", "integer", False), Column("body", "text")), ("id",))


def wide_table(url: str, rows: int, width: int = 1000) -> None:
    """``wide``: ``rows`` rows of about ``width`` bytes each."""
    run(
        url,
        "CREATE TABLE wide (id integer PRIMARY KEY, body text)",
        "INSERT INTO wide SELECT n, repeat(md5(n::text), %s) FROM generate_series(1, %s) n",
        params=(width // 32, rows),
    )


async def test_a_binary_batch_is_one_complete_payload_streamed_in_chunks(
    reader: StreamReader, source_database_url: str
) -> None:
    """Each batch is header..trailer of its own, handed out in chunks of about 256 KiB (never
    the batch at once), and PostgreSQL loads it back to exactly its rows."""
    wide_table(source_database_url, 3000)
    async with reader.read("wide", ReadPlan(WIDE, BINARY, 1000)) as batches:
        seen = []
        async for batch in batches:
            chunks = await frames_of(batch)
            assert len(chunks) > 1
            assert chunks[0].startswith(SIGNATURE)
            assert chunks[-1].endswith(TRAILER)
            assert all(len(chunk) <= CHUNK_BYTES + 2000 for chunk in chunks)
            seen.append(await decode_binary_copy(source_database_url, b"".join(chunks), WIDE))
    assert [len(rows) for rows in seen] == [1000, 1000, 1000]
    assert sorted(row[0] for rows in seen for row in rows) == list(range(1, 3001))


async def test_an_empty_table_is_read_as_one_empty_batch(
    reader: StreamReader, source_database_url: str
) -> None:
    """A full read always has a batch, so an empty source still replaces its destination."""
    run(source_database_url, "CREATE TABLE wide (id integer PRIMARY KEY, body text)")
    for frame_format in (BINARY, ROWS):
        read_batches = await read(
            reader, source_database_url, "wide", ReadPlan(WIDE, frame_format, 10)
        )
        assert read_batches == [([], None)]


ODD_SETTINGS = {  # output settings that change how values are spelled as text
    "TimeZone": "Asia/Kathmandu",
    "DateStyle": "SQL, DMY",
    "IntervalStyle": "sql_standard",
    "extra_float_digits": "-3",
}


def odd_reader(url: str, config: dict[str, Any], tmp_path: Path) -> StreamReader:
    """A reader signed in as a role whose defaults spell values oddly. Its factory has no
    control database: checking the control database's identity reads a timestamp in the
    role's DateStyle, which psycopg cannot parse (a known problem of that check)."""
    role = f"odd_{uuid.uuid4().hex[:8]}"
    run(
        url,
        f"CREATE ROLE {role} LOGIN",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        *(f"ALTER ROLE {role} SET {name} = '{value}'" for name, value in ODD_SETTINGS.items()),
    )
    factory = DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=True), 5, None)
    return postgres_reader_for(factory, config | {"user": role})


TYPED = Shape(
    (
        Column("id", "integer", False),
        Column("amount", "numeric(12,2)"),
        Column("at", "timestamp with time zone"),
        Column("day", "date"),
        Column("span", "interval"),
        Column("doc", "jsonb"),
        Column("ref", "uuid"),
        Column("blob", "bytea"),
        Column("tags", "text[]"),
        Column("mood", "public.mood"),
        Column("n", "public.positive"),
        Column("x", "double precision"),
    ),
    ("id",),
)
TYPED_ROW = (
    1,
    Decimal("1234567890.12"),
    datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
    date(2024, 1, 1),
    timedelta(days=3, seconds=5),
    {"a": [1, {"b": None}], "é": "ü"},
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    b"\x00\xff binary",
    ["x", "y z", None],
    "happy",
    7,
    0.1,
)


async def test_rows_are_decoded_once_into_python_values_in_the_plans_order(
    source: tuple[DefaultConnectorFactory, dict[str, Any]],
    source_database_url: str,
    tmp_path: Path,
) -> None:
    """ROWS frames hold Python values (a domain as its base type, an enum as its text) in the
    plan's column order, whatever output settings the role has; binary frames load back to
    the same values."""
    run(
        source_database_url,
        "CREATE TYPE mood AS ENUM ('sad', 'happy')",
        "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
        "CREATE TABLE typed (x float8, id integer PRIMARY KEY, amount numeric(12,2),"
        " at timestamptz, day date, span interval, doc jsonb, ref uuid, blob bytea, tags text[],"
        " mood mood, n positive)",
    )
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        names = sql.SQL(", ").join(map(sql.Identifier, TYPED.names))
        connection.execute(
            sql.SQL("INSERT INTO typed ({}) VALUES ({})").format(
                names, sql.SQL(", ").join(sql.Placeholder() * len(TYPED.names))
            ),
            [psycopg.types.json.Jsonb(v) if isinstance(v, dict) else v for v in TYPED_ROW],
        )
    reader = odd_reader(source_database_url, source[1], tmp_path)
    assert (await reader.shape("typed")).column("mood") == Column("mood", "public.mood")
    ((rows, _),) = await read(reader, source_database_url, "typed", ReadPlan(TYPED, ROWS, 10))
    assert rows == [TYPED_ROW]
    ((binary, _),) = await read(reader, source_database_url, "typed", ReadPlan(TYPED, BINARY, 10))
    assert binary == [TYPED_ROW]


async def test_a_read_sees_one_snapshot_whatever_commits_meanwhile(
    reader: StreamReader, source_database_url: str
) -> None:
    """Rows inserted and deleted while a read is between batches change nothing it gives, and
    every batch of an incremental read carries the same snapshot."""
    wide_table(source_database_url, 30, width=32)
    for cursor in (None, "id"):
        plan = ReadPlan(WIDE, BINARY, 10, cursor_field=cursor)
        ids, snapshots = [], set()
        async with reader.read("wide", plan) as batches:
            async for batch in batches:
                ids += [row[0] for row in await rows_of(source_database_url, batch, WIDE)]
                snapshots.add(batch.end.snapshot if batch.end else None)
                run(
                    source_database_url,
                    "DELETE FROM wide WHERE id = (SELECT max(id) FROM wide)",
                    "INSERT INTO wide SELECT max(id) + 100, 'new' FROM wide",
                )
        assert sorted(ids) == list(range(1, 31))
        assert len(snapshots) == 1
        run(
            source_database_url,
            "TRUNCATE wide",
            "INSERT INTO wide SELECT n, 'x' FROM generate_series(1, 30) n",
        )


async def test_the_statements_of_an_incremental_read_share_its_snapshot(
    reader: StreamReader, source_database_url: str
) -> None:
    """The first pass, the late rows' COPY and the later rows' COPY are separate statements:
    rows committed between them are not read, and the counts of the first pass hold."""
    wide_table(source_database_url, 3, width=32)
    late = Open(source_database_url)
    late.run("INSERT INTO wide VALUES (0, 'late')")
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    late.commit()
    run(source_database_url, "INSERT INTO wide VALUES (4, 'after'), (5, 'after')")
    ids = []
    async with reader.read("wide", plan_for(WIDE, "id", 10, first[-1][1])) as batches:
        async for batch in batches:
            ids += [row[0] for row in await rows_of(source_database_url, batch, WIDE)]
            run(source_database_url, "INSERT INTO wide VALUES (6, 'during'), (7, 'during')")
            run(source_database_url, "DELETE FROM wide WHERE id IN (4, 6, 7)")
    assert ids == [0, 4, 5]


async def test_a_column_retyped_after_the_shape_was_taken_fails_naming_it(
    reader: StreamReader, source_database_url: str
) -> None:
    """Binary frames would no longer mean what the destination was told: the read refuses."""
    wide_table(source_database_url, 3, width=32)
    shape = await reader.shape("wide")
    run(source_database_url, "ALTER TABLE wide ALTER COLUMN id TYPE bigint")
    with pytest.raises(StreamFailed, match="'id' changed type"):
        await read(reader, source_database_url, "wide", ReadPlan(shape, BINARY, 10))


async def test_an_abandoned_read_ends_cleanly_and_unread_frames_are_caught(
    reader: StreamReader, source_database_url: str
) -> None:
    """Leaving a read mid-batch closes it at once; asking for the next batch while the last
    one's frames are unread is a programming error, not a silent skip."""
    wide_table(source_database_url, 3000)
    async with reader.read("wide", ReadPlan(WIDE, BINARY, 1000)) as batches:
        batch = await anext(batches)
        await anext(batch.frames)
    async with reader.read("wide", ReadPlan(WIDE, BINARY, 1000)) as batches:
        batch = await anext(batches)
        await anext(batch.frames)
        with pytest.raises(RuntimeError, match="not all consumed"):
            await anext(batches)
    assert (
        len(flat(await read(reader, source_database_url, "wide", ReadPlan(WIDE, ROWS, 1000))))
        == 3000
    )


async def test_memory_stays_flat_while_a_large_table_is_read(
    reader: StreamReader, source_database_url: str
) -> None:
    """Reading 300,000 rows (about 150 MB of COPY data) grows the process by far less than the
    table: frames are handed out as they come and dropped by the consumer."""
    wide_table(source_database_url, 300_000, width=480)
    process = psutil.Process(os.getpid())
    for cursor in (None, "id"):
        before, peak, sent = process.memory_info().rss, 0, 0
        async with reader.read("wide", ReadPlan(WIDE, BINARY, 50_000, cursor_field=cursor)) as b:
            async for batch in b:
                async for chunk in batch.frames:
                    sent += len(chunk)
                    peak = max(peak, process.memory_info().rss)
        assert sent > 140 * 2**20
        assert peak - before < 40 * 2**20, f"grew {(peak - before) / 2**20:.0f} MiB"


# --- incremental reads ----------------------------------------------------------------------


def plan_for(shape: Shape, cursor: str, batch_rows: int, after: Position | None = None) -> ReadPlan:
    """An incremental plan in binary frames."""
    return ReadPlan(shape, BINARY, batch_rows, cursor_field=cursor, after=after)


CURSOR_TYPES = {
    "integer": ["-1", "9", "10", "10", "100"],
    "numeric": ["9.5", "10", "10.00", "1e-20", "-3"],
    "timestamptz": [
        "2024-01-01 00:00:00+05",
        "2023-12-31 19:00:00+00",  # the same instant as the first: a tie
        "2023-12-31 19:00:00.000001+00",
        "2024-06-01 12:00:00+02",
        "1999-12-31 23:59:59.999999-12",
    ],
    "text": ["b", "B", "a", "ä", ""],
    "uuid": [str(uuid.UUID(int=n * 2**64)) for n in (9, 10, 10, 255, 1)],
}


@pytest.mark.parametrize("cursor_type", sorted(CURSOR_TYPES))
async def test_a_position_is_cast_back_to_the_cursors_type(
    reader: StreamReader, source_database_url: str, cursor_type: str
) -> None:
    """Resuming after every batch (one row each) gives each row exactly once, in the order the
    server sorts the type (not the text's order), ties broken by the key."""
    run(source_database_url, f"CREATE TABLE c (id integer PRIMARY KEY, v {cursor_type} NOT NULL)")
    for n, value in enumerate(CURSOR_TYPES[cursor_type]):
        run(source_database_url, "INSERT INTO c VALUES (%s, %s)", params=(n, value))
    shape = await reader.shape("c")
    expected = select(source_database_url, "SELECT id, v FROM c ORDER BY v, id")
    got: list[Row] = []
    after = None
    for _ in range(len(expected) + 1):
        plan = plan_for(shape, "v", 1, after)
        first = await read(reader, source_database_url, "c", plan, batches=1)
        if not first or not first[0][0]:
            break
        rows, after = first[0]
        got += rows
    assert got == expected


async def test_a_composite_key_breaks_ties_in_its_order(
    reader: StreamReader, source_database_url: str
) -> None:
    """With a (text, integer) key, rows tying on the cursor come in key order, resumable."""
    run(
        source_database_url,
        "CREATE TABLE k (region text, n integer, v integer NOT NULL, PRIMARY KEY (region, n))",
        "INSERT INTO k VALUES ('b', 1, 5), ('a', 10, 5), ('a', 9, 5), ('a', 2, 1), ('c', 0, 5)",
    )
    shape = await reader.shape("k")
    first = await read(reader, source_database_url, "k", plan_for(shape, "v", 2))
    assert flat(first) == select(source_database_url, "SELECT * FROM k ORDER BY v, region, n")
    assert [(e.cursor, e.key) for _, e in first if e] == [
        ("5", ("a", "9")),
        ("5", ("b", "1")),
        ("5", ("c", "0")),
    ]
    rest = await read(reader, source_database_url, "k", plan_for(shape, "v", 2, first[1][1]))
    assert flat(rest) == [("c", 0, 5)]


async def test_a_table_without_a_key_is_resumable_exactly_on_ties(
    reader: StreamReader, source_database_url: str
) -> None:
    """Without a key the row's place breaks ties: resuming after any batch of a read that cut
    through a tie gives exactly the rest."""
    run(
        source_database_url,
        "CREATE TABLE log (v integer NOT NULL, note text)",
        "INSERT INTO log SELECT 7, 'row ' || n FROM generate_series(1, 5) n",
    )
    shape = await reader.shape("log")
    assert shape.primary_key == ()
    whole = await read(reader, source_database_url, "log", plan_for(shape, "v", 2))
    assert len(flat(whole)) == 5
    for done, (_, end) in enumerate(whole[:-1]):
        rest = await read(reader, source_database_url, "log", plan_for(shape, "v", 2, end))
        assert flat(rest) == flat(whole)[2 * (done + 1) :]


async def test_a_null_in_a_declared_key_fails_the_stream_naming_it(
    reader: StreamReader, source_database_url: str
) -> None:
    """A stream whose declared key holds NULL cannot be ordered exactly: it fails, naming it."""
    run(
        source_database_url,
        "CREATE TABLE d (k integer, v integer NOT NULL)",
        "INSERT INTO d VALUES (1, 1), (NULL, 2)",
    )
    columns = (await reader.shape("d")).columns
    with pytest.raises(StreamFailed, match="key column 'k'"):
        await read(reader, source_database_url, "d", plan_for(Shape(columns, ("k",)), "v", 10))


async def test_a_view_is_read_whole_but_never_incrementally(
    reader: StreamReader, source_database_url: str
) -> None:
    """A view has no row versions to find late commits by: incremental reads are refused."""
    wide_table(source_database_url, 5, width=32)
    run(source_database_url, "CREATE VIEW recent AS SELECT id, body FROM wide WHERE id > 2")
    shape = await reader.shape("recent")
    assert (
        len(flat(await read(reader, source_database_url, "recent", ReadPlan(shape, BINARY, 2))))
        == 3
    )
    with pytest.raises(StreamFailed, match="needs a table"):
        await read(reader, source_database_url, "recent", plan_for(shape, "id", 2))


class Open:
    """A transaction on the source left open, as a long-running writer's would be."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url)

    def run(self, statement: str | sql.Composed, params: Sequence[Any] | None = None) -> None:
        self.connection.execute(statement, params)

    def commit(self) -> None:
        self.connection.commit()
        self.connection.close()


@pytest.fixture(params=["id lists", "age"])
def windows(request: pytest.FixtureRequest) -> Iterator[str]:
    """Transaction windows tested by lists of ids (the default, on PostgreSQL 15 and later) or
    by ``age(xmin)`` (longer windows, older servers): the late-row tests hold both to the
    same rows."""
    limit = incremental_sql.XID_LIST_LIMIT if request.param == "id lists" else -1
    with patch.object(incremental_sql, "XID_LIST_LIMIT", limit):
        yield request.param


async def test_a_row_committed_late_below_the_position_comes_next_time_once(
    reader: StreamReader, source_database_url: str, windows: str
) -> None:
    """A transaction running during a read inserts a row with an old cursor value and commits
    after it: the next read gives that row, once; the one after, nothing."""
    wide_table(source_database_url, 5, width=32)
    late = Open(source_database_url)
    late.run("INSERT INTO wide VALUES (0, 'late')")
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    assert [row[0] for row in flat(first)] == [1, 2, 3, 4, 5]
    late.commit()
    second = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10, first[-1][1]))
    assert flat(second) == [(0, "late")]
    third = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10, second[-1][1]))
    assert flat(third) == []


async def test_rows_committed_late_come_in_bounded_batches_cut_between_transactions(
    reader: StreamReader, source_database_url: str, windows: str
) -> None:
    """Late rows are cut into batches of at most batch_rows at transaction boundaries (one
    transaction's rows stay together only when they alone are more): resuming after any of
    them gives exactly the rest."""
    wide_table(source_database_url, 3, width=32)
    transactions = [Open(source_database_url) for _ in range(3)]
    for transaction, ids in zip(transactions, [(-1, -2, -3), (-4, -5), (-6,)], strict=True):
        for late_id in ids:
            transaction.run("INSERT INTO wide VALUES (%s, 'late')", (late_id,))
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    for transaction in transactions:
        transaction.commit()
    second = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 2, first[-1][1]))
    assert [sorted(row[0] for row in rows) for rows, _ in second] == [[-3, -2, -1], [-5, -4], [-6]]
    for done, (_, end) in enumerate(second[:-1]):
        rest = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 2, end))
        assert sorted(flat(rest)) == sorted(flat(second[done + 1 :]))


async def test_a_row_written_in_a_released_savepoint_is_not_lost(
    reader: StreamReader, source_database_url: str, windows: str
) -> None:
    """A subtransaction's id is not in ``pg_current_snapshot()``'s list of running ones, so a
    visibility test by that snapshot would call its row seen; the horizon does not."""
    wide_table(source_database_url, 5, width=32)
    late = Open(source_database_url)
    late.run("SELECT pg_current_xact_id()")
    late.run("SAVEPOINT s")
    late.run("INSERT INTO wide VALUES (0, 'in a savepoint')")
    late.run("RELEASE SAVEPOINT s")
    run(source_database_url, "INSERT INTO wide VALUES (6, 'after, committed at once')")
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    late.commit()
    second = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10, first[-1][1]))
    everything = sorted(flat(first) + flat(second))
    assert everything == select(source_database_url, "SELECT * FROM wide ORDER BY id")
    assert (0, "in a savepoint") in flat(second)


async def test_rows_of_transactions_younger_than_a_running_one_wait_for_the_next_read(
    reader: StreamReader, source_database_url: str, windows: str
) -> None:
    """While an older transaction runs, rows committed by younger ones are held back (they
    come next time, once): the read never moves past what is settled on the source."""
    wide_table(source_database_url, 2, width=32)
    old = Open(source_database_url)
    old.run("SELECT pg_current_xact_id()")  # takes a transaction id, as any writer does
    run(source_database_url, "INSERT INTO wide VALUES (3, 'young')")
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    assert [row[0] for row in flat(first)] == [1, 2]
    old.commit()
    second = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10, first[-1][1]))
    assert flat(second) == [(3, "young")]


async def test_when_nothing_is_new_only_the_snapshot_moves_on(
    reader: StreamReader, source_database_url: str
) -> None:
    """A read that finds nothing hands one empty batch ending at the same row with the new
    snapshot, so the next read looks back from there."""
    wide_table(source_database_url, 2, width=32)
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10))
    end = first[-1][1]
    assert end is not None
    run(source_database_url, "CREATE TABLE elsewhere (a int)", "INSERT INTO elsewhere VALUES (1)")
    for frame_format in (BINARY, ROWS):
        plan = ReadPlan(WIDE, frame_format, 10, cursor_field="id", after=end)
        ((rows, moved),) = await read(reader, source_database_url, "wide", plan)
        assert rows == []
        assert moved is not None
        assert (moved.cursor, moved.key) == (end.cursor, end.key)
        assert moved.snapshot != end.snapshot


def scanned(url: str, table: str, at_least: int) -> tuple[int, int]:
    """PostgreSQL's counts of the rows its sequential scans read from ``table`` and of the
    entries its index scans read in its indexes, once the first reached ``at_least`` (a
    session reports its counts, all at once, when it ends)."""
    query = """
    SELECT seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
    WHERE relid = %s::regclass
    """
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            connection.execute("SELECT pg_stat_clear_snapshot()")
            row = connection.execute(query, (table,)).fetchone()
            assert row is not None
            if row[0] >= at_least or time.monotonic() > deadline:
                return int(row[0]), int(row[1])
            time.sleep(0.05)


@pytest.mark.parametrize("xid_lists", [incremental_sql.XID_LIST_LIMIT, -1])
async def test_a_read_of_a_few_new_rows_scans_the_table_once(
    reader: StreamReader, source_database_url: str, xid_lists: int
) -> None:
    """A first pass finds the few rows to read; the batches and the rows come by address, not
    by scanning again nor through the index on the cursor (``id``, the key), which would test
    every row it meets against the whole list (the planner prefers it: it holds the rows in
    the read's order). The oracle: the server's own counts of the rows its scans read and
    fetched through an index. Whichever form the transaction windows take."""
    wide_table(source_database_url, 5_000, width=32)
    first = await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10_000))
    end = first[-1][1]
    run(
        source_database_url,
        "INSERT INTO wide SELECT n, md5(n::text) FROM generate_series(5001, 5300) n",
        "ANALYZE wide",  # the planner knows how few rows lie past the position, in the index
    )
    rows_before, fetched = scanned(source_database_url, "wide", 5_000)  # the first read's
    with patch.object(incremental_sql, "XID_LIST_LIMIT", xid_lists):
        rows = flat(await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 7, end)))
    assert [row[0] for row in rows] == list(range(5001, 5301))
    rows_after, fetched_after = scanned(source_database_url, "wide", rows_before + 5_300)
    assert rows_after - rows_before == 5_300
    assert fetched_after - fetched < 30  # the planner's own peeks at the index's ends, at most


@pytest.mark.parametrize("address_limit", [incremental_sql.ADDRESS_LIMIT, 0])
@pytest.mark.parametrize("children", [0, 1])
@pytest.mark.parametrize("step", ["cuts", "copy"])
async def test_a_child_attached_while_a_read_runs_stays_out_of_it(
    reader: StreamReader, source_database_url: str, address_limit: int, children: int, step: str
) -> None:
    """The read's lock does not stop ``ALTER TABLE ... INHERIT``. A child attached before the
    batches are cut or before the rows are copied stays out of the whole read, as the
    snapshot's catalog says, whether the table had children then or not, and whether rows
    come by address or by scanning: every row the snapshot held comes once, and the
    position and the fingerprint know nothing of the newcomer (whose rows tie with the
    table's on the cursor and share its addresses)."""
    run(
        source_database_url,
        "CREATE TABLE parent (id integer NOT NULL, v integer NOT NULL)",
        "CREATE TABLE newcomer (id integer NOT NULL, v integer NOT NULL)",
        "INSERT INTO parent SELECT n, n FROM generate_series(1, 6) n",
        "INSERT INTO newcomer SELECT 100 + n, n FROM generate_series(1, 6) n",
    )
    if children:
        run(
            source_database_url,
            "CREATE TABLE elder () INHERITS (parent)",
            "INSERT INTO elder SELECT 50 + n, n FROM generate_series(1, 6, 2) n",
        )
    held = select(source_database_url, "SELECT id, v FROM parent")
    shape = await reader.shape("parent")
    original = getattr(incremental_sql.IncrementalSql, step)

    def attached_first(queries: incremental_sql.IncrementalSql, *args: Any, **kw: Any) -> Any:
        run(source_database_url, "ALTER TABLE newcomer INHERIT parent")
        return original(queries, *args, **kw)

    rows: list[Row] = []
    prints: list[Fingerprint] = []
    plan = evolve(plan_for(shape, "v", 2), fingerprint=prints.append)
    with (
        patch.object(incremental_sql, "ADDRESS_LIMIT", address_limit),
        patch.object(incremental_sql.IncrementalSql, step, attached_first),
    ):
        async with reader.read("parent", plan) as batches:
            async for batch in batches:
                rows += await rows_of(source_database_url, batch, shape)
                end = batch.end
    assert sorted(rows) == sorted(held)
    assert end is not None
    assert end.cursor == "6"
    assert [p.rows for p in prints] == [len(held)]
    assert len(select(source_database_url, "SELECT id FROM parent")) == len(held) + 6


async def test_a_grant_of_some_columns_shows_them_and_says_a_read_needs_the_table(
    source: tuple[DefaultConnectorFactory, dict[str, Any]], source_database_url: str
) -> None:
    """A user who may read some columns of a table sees only those in the shape; a read, which
    locks the table against changes of its columns (a lock a column grant does not allow),
    fails for good saying so, not with a bare privilege error."""
    role = f"partial_{uuid.uuid4().hex[:8]}"
    run(
        source_database_url,
        f"CREATE ROLE {role} LOGIN",
        "CREATE TABLE kept (id integer NOT NULL, v integer NOT NULL, hidden text)",
        "INSERT INTO kept VALUES (1, 1, 'a'), (2, 2, 'b')",
        f"GRANT SELECT (id, v) ON kept TO {role}",
    )
    factory, config = source
    partial = postgres_reader_for(factory, config | {"user": role})
    try:
        shape = await partial.shape("kept")
        assert shape.names == ("id", "v")
        for plan in (ReadPlan(shape, ROWS, 10), plan_for(shape, "v", 10)):
            with pytest.raises(StreamFailed, match="needs SELECT on the whole table") as failed:
                await read(partial, source_database_url, "kept", plan)
            assert not failed.value.retryable
    finally:
        run(source_database_url, "DROP TABLE kept CASCADE", f"DROP ROLE {role}")


async def test_a_snapshot_from_ahead_of_the_source_is_refused(
    reader: StreamReader, source_database_url: str
) -> None:
    """A position read from a later history than the source has (a restored or replaced
    server) cannot tell what is new: the stream fails for good instead of guessing."""
    wide_table(source_database_url, 2, width=32)
    ahead = Position("1", ("1",), "4000000000:4000000000:")
    with pytest.raises(StreamFailed, match="ahead of the source") as failed:
        await read(reader, source_database_url, "wide", plan_for(WIDE, "id", 10, ahead))
    assert not failed.value.retryable


# --- the property ---------------------------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.lists(st.integers(0, 6), min_size=1, max_size=4)),
        st.tuples(st.just("open"), st.lists(st.integers(0, 6), min_size=1, max_size=3)),
        st.tuples(st.just("commit"), st.just([])),
        st.tuples(st.just("read"), st.integers(0, 3).map(lambda n: [n])),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.postgres
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    keyed=st.booleans(),
    batch_rows=st.integers(1, 4),
    script=steps,
    savepoints=st.booleans(),
    frame_format=st.sampled_from([BINARY, ROWS]),
    address_limit=st.sampled_from([0, 1, incremental_sql.ADDRESS_LIMIT]),
    xid_lists=st.sampled_from([-1, 2, incremental_sql.XID_LIST_LIMIT]),
)
def test_successive_interrupted_reads_give_every_row_exactly_once(
    reader: StreamReader,
    source_database_url: str,
    keyed: bool,
    batch_rows: int,
    script: list[tuple[str, list[int]]],
    savepoints: bool,
    frame_format: FrameFormat,
    address_limit: int,
    xid_lists: int,
) -> None:
    """Whatever inserts (with ties and cursor values below the position), transactions left
    open across reads, and reads cut short after any batch: once everything has committed,
    the batches of all reads, each resuming where the last consumed batch ended, hold every
    row of the table exactly once (the oracle: a plain SELECT). Rows are fetched by address
    up to ``address_limit`` of them, by scanning the table past it; transactions are told
    apart by lists of ids in windows of up to ``xid_lists`` ids, by ``age`` in longer ones."""
    table = f"p_{uuid.uuid4().hex[:10]}"
    key = sql.SQL("PRIMARY KEY" if keyed else "")
    name = sql.Identifier(table)
    run(
        source_database_url,
        sql.SQL("CREATE TABLE {} (id integer {}, v integer NOT NULL)").format(name, key),
    )
    counter = iter(range(10**6))

    def insert(cursors: list[int]) -> sql.Composed:
        rows = [sql.SQL("({}, {})").format(next(counter), v) for v in cursors]
        return sql.SQL("INSERT INTO {} VALUES {}").format(name, sql.SQL(", ").join(rows))

    async def scenario() -> None:
        shape = await reader.shape(table)
        opened: list[Open] = []
        delivered: list[int] = []
        after: Position | None = None

        async def read_once(limit: int | None) -> None:
            nonlocal after
            plan = ReadPlan(shape, frame_format, batch_rows, cursor_field="v", after=after)
            async with reader.read(table, plan) as batches:
                done = 0
                async for batch in batches:
                    rows = await rows_of(source_database_url, batch, shape)
                    late = (
                        after is not None
                        and batch.end is not None
                        and ((batch.end.cursor, batch.end.key) == (after.cursor, after.key))
                    )
                    assert late or len(rows) <= batch_rows
                    if keyed and rows and not late:  # (cursor, key) order, ending at the last
                        assert rows == sorted(rows, key=lambda row: (row[1], row[0]))
                        assert batch.end is not None
                        assert (batch.end.cursor, batch.end.key) == (
                            str(rows[-1][1]),
                            (str(rows[-1][0]),),
                        )
                    delivered.extend(row[0] for row in rows)
                    after = batch.end
                    done += 1
                    if limit is not None and done == limit:
                        return

        for action, argument in script:
            if action == "insert":
                run(source_database_url, insert(argument))
            elif action == "open":
                transaction = Open(source_database_url)
                if savepoints:
                    transaction.run("SELECT pg_current_xact_id()")
                    transaction.run("SAVEPOINT s")
                transaction.run(insert(argument))
                if savepoints:
                    transaction.run("RELEASE SAVEPOINT s")
                opened.append(transaction)
            elif action == "commit" and opened:
                opened.pop(0).commit()
            elif action == "read":
                await read_once(argument[0] or None)
        for transaction in opened:
            transaction.commit()
        everything = select(source_database_url, sql.SQL("SELECT id FROM {}").format(name))
        oracle = sorted(row[0] for row in everything)
        for _ in range(10):  # a transaction of the server's own (autoanalyze) may hold rows back
            await read_once(None)
            if sorted(delivered) == oracle:
                break
            await asyncio.sleep(0.1)
        await read_once(None)
        assert sorted(delivered) == oracle

    with (
        patch.object(incremental_sql, "ADDRESS_LIMIT", address_limit),
        patch.object(incremental_sql, "XID_LIST_LIMIT", xid_lists),
    ):
        asyncio.run(scenario())


async def test_a_table_locked_against_reading_fails_retryably_after_the_timeout(
    source: tuple[DefaultConnectorFactory, dict[str, Any]], source_database_url: str, tmp_path: Path
) -> None:
    """A read waits for a lock on the table no longer than the connector timeout, then fails
    in a way worth retrying (the lock is somebody's ALTER or VACUUM FULL)."""
    wide_table(source_database_url, 2, width=32)
    _, config = source
    factory = DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=True), 0.5, None)
    holder = Open(source_database_url)
    holder.run("LOCK TABLE wide IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(StreamFailed) as failed:
            await read(
                postgres_reader_for(factory, config),
                source_database_url,
                "wide",
                ReadPlan(WIDE, BINARY, 10),
            )
        assert failed.value.retryable
    finally:
        holder.commit()


async def test_a_partitioned_table_is_read_whole_and_resumably_across_partitions(
    reader: StreamReader, source_database_url: str
) -> None:
    """A partitioned table reads through its parent (``COPY table TO`` refuses one); without a
    key, rows tying across partitions are told apart by partition and place."""
    run(
        source_database_url,
        "CREATE TABLE parted (v integer NOT NULL, region text) PARTITION BY LIST (region)",
        "CREATE TABLE parted_a PARTITION OF parted FOR VALUES IN ('a')",
        "CREATE TABLE parted_b PARTITION OF parted FOR VALUES IN ('b')",
        "INSERT INTO parted VALUES (1, 'a'), (1, 'b'), (1, 'a'), (1, 'b'), (2, 'a')",
    )
    shape = await reader.shape("parted")
    whole = flat(await read(reader, source_database_url, "parted", ReadPlan(shape, ROWS, 2)))
    assert sorted(whole) == sorted(select(source_database_url, "SELECT * FROM parted"))
    first = await read(reader, source_database_url, "parted", plan_for(shape, "v", 1))
    for done, (_, end) in enumerate(first[:-1]):
        rest = await read(reader, source_database_url, "parted", plan_for(shape, "v", 1, end))
        assert flat(rest) == flat(first)[done + 1 :]


async def test_the_estimate_is_the_planners_count_and_none_before_any(
    source_database_url: str, reader: StreamReader
) -> None:
    """No count is made: an analyzed table gives its statistics' row count, one never
    analyzed and a view give None."""
    run(source_database_url, "CREATE TABLE counted (id bigint)", "CREATE VIEW seen AS SELECT 1")
    run(source_database_url, "INSERT INTO counted SELECT generate_series(1, 1234)")
    assert await reader.estimate("seen") is None
    run(source_database_url, "ANALYZE counted")
    assert await reader.estimate("counted") == 1234
