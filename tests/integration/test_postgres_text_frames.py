"""CSV and JSON Lines frames between PostgreSQL sources and destinations, on real servers.

A table holding every type of the mapping, with the values that are hard to
carry as text (empty string and NULL, quotes, commas, line breaks,
backslashes, control characters, ``\\.``, NaN and infinities, BC dates, the
largest numbers, NULL array elements...), is read in each text format and
written back into another database; the two are compared by PostgreSQL's own
text of every value, read by the test's own connections. The frames themselves
are compared with what the server writes for ``COPY (FORMAT csv)`` and
``to_json``, and incremental reads are cut at the same rows as binary ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.contract.test_stream_readers import (
    decode_binary_copy,
    postgres_reader_for,
    postgres_source,
)
from tests.contract.test_stream_writers import postgres_destination, postgres_writer_for
from tests.integration.test_postgres_reader import Open
from thedata.adapters.connectors.postgres import read_formats
from thedata.adapters.connectors.postgres import reader as reader_module
from thedata.adapters.connectors.postgres.copy_out import CHUNK_BYTES
from thedata.application.ports import (
    Batch,
    Column,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
    StreamReader,
    StreamWriter,
    WriteMode,
)

CSV, JSONL, BINARY = FrameFormat.CSV, FrameFormat.JSON_LINES, FrameFormat.POSTGRES_BINARY
TEXT_FORMATS = [CSV, JSONL]
PIPELINE = "text-frames"
WEIRD = 'we"ird, col\nx'
"""A column name with a quote, a comma and a line break (a JSON key, a CSV column)."""
Row = tuple[Any, ...]

PINNED = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';"
    " SET extra_float_digits = 1; SET bytea_output = 'hex'"
)
"""The output settings the reader pins: the test's own reads spell values the same way."""

SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'happy', 'so, "so"');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
"""
COLUMNS = [
    ("id", "bigint PRIMARY KEY"),
    ("i", "integer"),
    ("s", "smallint"),
    ("amount", "numeric(12,2)"),
    ("big", "numeric"),
    ("f4", "real"),
    ("f8", "double precision"),
    ("ok", "boolean"),
    ("note", "text"),
    ("short", "varchar(8)"),
    ("code", "char(4)"),
    ("day", "date"),
    ("at", "timestamp"),
    ("atz", "timestamptz"),
    ("clock", "time"),
    ("span", "interval"),
    ("ref", "uuid"),
    ("blob", "bytea"),
    ("doc", "json"),
    ("docb", "jsonb"),
    ("tags", "text[]"),
    ("ints", "integer[]"),
    ("amounts", "numeric[]"),
    ("ip", "inet"),
    ("n", "positive"),
    ("m", "mood"),
    ("r", "text"),  # to_json(r) would be this column, not the row
    (WEIRD, "text"),
]
NAMES = [name for name, _ in COLUMNS]
SHOWCASE: dict[str, Any] = {
    "id": 1,
    "i": 42,
    "s": -7,
    "amount": "1234567890.12",
    "big": "3.14159265358979323846264338327950288",
    "f4": "1.5",
    "f8": "0.1",
    "ok": True,
    "note": "plain",
    "short": "short",
    "code": "ab",
    "day": "2024-02-29",
    "at": "2024-02-29 23:59:59.123456",
    "atz": "2024-02-29 23:59:59.123456+05:45",
    "clock": "13:14:15.5",
    "span": "1 year 2 mons 3 days 04:05:06.5",
    "ref": "12345678-1234-5678-1234-567812345678",
    "blob": "\\x00ff10",
    "doc": '{"k": [1, 2]}',
    "docb": '{"é": "ü", "n": 1.50}',
    "tags": '{a,"b c"}',
    "ints": "{1,NULL,3}",
    "amounts": "{1.10,NaN}",
    "ip": "10.1.2.3/8",
    "n": 7,
    "m": "happy",
    "r": "r",
    WEIRD: "w",
}
HARD: list[dict[str, Any]] = [
    {"id": 2},  # NULL everywhere
    {
        "id": 3,
        "i": -2147483648,
        "s": 32767,
        "amount": "-9999999999.99",
        "big": "123456789012345678901234567890.123456789012345678901234567890",
        "f4": "Infinity",
        "f8": "-Infinity",
        "ok": False,
        "note": "",
        "short": "",
        "code": "",
        "day": "0001-01-01 BC",
        "at": "294276-12-31 23:59:59.999999",
        "atz": "-infinity",
        "clock": "24:00:00",
        "span": "-1 years -2 mons +3 days -04:05:06.000001",
        "ref": "00000000-0000-0000-0000-000000000000",
        "blob": "",
        "doc": ' {"b": 1,\n "a": [1,\r\n2], "b": 2} ',  # line breaks, a key twice, spaces
        "docb": "[]",
        "tags": "{}",
        "ints": "{NULL}",
        "amounts": "{NaN,-0.0001}",
        "ip": "::1/128",
        "n": 1,
        "m": 'so, "so"',
        "r": "",
        WEIRD: "",
    },
    {
        "id": 4,
        "amount": "NaN",
        "big": "NaN",
        "f4": "NaN",
        "f8": "-0",
        "note": 'a,b "c" \\ d\ne\r\nf\tg \x01\x02\x7f é 😀 \u2028',
        "short": "\\.",
        "code": "a",
        "day": "infinity",
        "at": "0044-03-15 10:00:00 BC",
        "doc": '"just a string"',
        "docb": '{"nested": {"deep": [null, true, "\\n"]}}',
        "tags": '{"a,b","q\\"t","back\\\\slash","",NULL,"NULL","{x}"}',
        "ints": "{{1,NULL},{3,4}}",
        "amounts": "{1e-20,12345678901234567890}",
        "ip": "192.168.0.1/24",
        "n": 2147483647,
        "m": "sad",
    },
    {"id": 5, "note": "a\n\\.\nb", "f4": "1.4e-45", "f8": "4.9e-324", "doc": "null"},
    {"id": 6, "note": "\\.", "f8": "1.7976931348623157e308", "big": "-0.000000000000000001"},
]
ROWS = [SHOWCASE, *HARD]


def run(url: str, *statements: str | sql.Composed) -> None:
    """Run statements on ``url`` in autocommit."""
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def create_typed(url: str, table: str = "typed", rows: Sequence[dict[str, Any]] = ROWS) -> None:
    """``table`` with every column of the mapping, holding ``rows`` (absent keys are NULL)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(spelled)) for name, spelled in COLUMNS
    )
    with psycopg.connect(url, autocommit=True) as connection:
        if connection.execute("SELECT to_regtype('mood')").fetchone() == (None,):
            connection.execute(SCHEMA)
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), columns))
        for row in rows:
            names = list(row)
            connection.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                [row[name] for name in names],
            )


def texts(url: str, table: str, order: str = "id") -> list[tuple[str | None, ...]]:
    """Every value's text as PostgreSQL spells it (``::text``, the reader's settings)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(PINNED)
        columns = sql.SQL(", ").join(
            sql.SQL("{}::text").format(sql.Identifier(name)) for name in NAMES
        )
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            columns, sql.Identifier(table), sql.Identifier(order)
        )
        return [tuple(row) for row in connection.execute(query).fetchall()]


def through_json_lines(row: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """What JSON Lines keep of a row's texts: a ``json`` value's line breaks become spaces and
    the spaces around it go (its text is embedded as stored, and a line holds one row); a
    ``json`` holding JSON's ``null`` becomes NULL (to_json writes both as ``null``)."""
    doc = NAMES.index("doc")
    value = row[doc]
    if value is not None:
        value = value.replace("\r", " ").replace("\n", " ").strip(" ")
        value = None if value == "null" else value
    return (*row[:doc], value, *row[doc + 1 :])


@pytest.fixture
def destination_url(source_server_url: str) -> Iterator[str]:
    """Another database on the sources' server, for the writer."""
    name = f"thedata_test_text_{uuid.uuid4().hex[:12]}"
    run(source_server_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(source_server_url, dbname=name)
    run(
        source_server_url,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )


@pytest.fixture
def reader(
    source_database_url: str, postgres_server_url: str, tmp_path: Path
) -> Iterator[StreamReader]:
    """The postgres reader of the source database."""
    with postgres_source(source_database_url, postgres_server_url, tmp_path) as found:
        yield postgres_reader_for(*found)


@pytest.fixture
def writer(
    destination_url: str, postgres_server_url: str, tmp_path: Path
) -> Iterator[StreamWriter]:
    """The postgres writer of the destination database."""
    with postgres_destination(destination_url, postgres_server_url, tmp_path) as found:
        yield postgres_writer_for(*found)


class Counted:
    """A batch's frames, counting their bytes on the way."""

    def __init__(self, frames: AsyncIterator[Any]) -> None:
        self.frames, self.bytes = frames, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for frame in self.frames:
            self.bytes += len(frame)
            yield frame


async def move(
    reader: StreamReader,
    writer: StreamWriter,
    frame_format: FrameFormat,
    mode: WriteMode,
    *,
    stream: str = "typed",
    table: str = "copied",
    batch_rows: int = 2,
) -> tuple[int, int, int]:
    """Move ``stream`` in ``frame_format``: rows and bytes the writer said, bytes it was given."""
    shape = await reader.shape(stream)
    if mode is WriteMode.APPEND:
        shape = Shape(shape.columns)
    cursor = None if mode is WriteMode.REPLACE else "id"
    rows = written = given = 0
    async with writer.open(PIPELINE, stream, table, shape, mode, 1) as sink:
        assert frame_format in sink.formats
        plan = ReadPlan(shape, frame_format, batch_rows, cursor_field=cursor, after=sink.position)
        async with reader.read(stream, plan) as batches:
            async for batch in batches:
                assert batch.format is frame_format
                counted = Counted(batch.frames)
                done = await sink.write(Batch(batch.format, counted.__aiter__(), batch.end))
                rows, written, given = rows + done.rows, written + done.bytes, given + counted.bytes
        await sink.finish()
    return rows, written, given


# --- every type, both ways --------------------------------------------------------------------


@pytest.mark.parametrize("mode", [WriteMode.REPLACE, WriteMode.UPSERT, WriteMode.APPEND])
@pytest.mark.parametrize("frame_format", TEXT_FORMATS, ids=lambda f: f.value)
async def test_every_type_survives_a_round_trip_in_text_frames(
    reader: StreamReader,
    writer: StreamWriter,
    source_database_url: str,
    destination_url: str,
    frame_format: FrameFormat,
    mode: WriteMode,
) -> None:
    """Source table -> reader frames -> writer -> destination table, in every write mode: the
    destination holds every value with the same text and type as the source (JSON Lines: a
    json value's line breaks become spaces, JSON null becomes NULL), and the writer counts
    the rows it wrote and every byte it was given."""
    create_typed(source_database_url)
    create_typed(destination_url, "expected", [])  # the types, for the writer's table
    rows, written, given = await move(reader, writer, frame_format, mode)
    assert rows == len(ROWS)
    assert written == given > 0
    expected = texts(source_database_url, "typed")
    if frame_format is JSONL:
        expected = [through_json_lines(row) for row in expected]
    assert texts(destination_url, "copied") == expected
    with psycopg.connect(destination_url) as connection:
        types = connection.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
            ("copied",),
        ).fetchall()
    assert [t for _, t in types] == [
        "bigint",
        "integer",
        "smallint",
        "numeric(12,2)",
        "numeric",
        "real",
        "double precision",
        "boolean",
        "text",
        "character varying(8)",
        "character(4)",
        "date",
        "timestamp without time zone",
        "timestamp with time zone",
        "time without time zone",
        "interval",
        "uuid",
        "bytea",
        "json",
        "jsonb",
        "text[]",
        "integer[]",
        "numeric[]",
        "inet",
        "positive",
        "mood",
        "text",
        "text",
    ]


async def frames(reader: StreamReader, plan: ReadPlan, stream: str = "typed") -> list[bytes]:
    """Every frame of a read, batch after batch."""
    found: list[bytes] = []
    async with reader.read(stream, plan) as batches:
        async for batch in batches:
            found.extend([frame async for frame in batch.frames])  # type: ignore[misc]
    return found


def server_bytes(url: str, statement: str) -> bytes:
    """What ``statement`` (a COPY TO STDOUT) sends, under the reader's settings."""
    out = bytearray()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(PINNED)
        with connection.cursor().copy(statement) as copy:
            for chunk in copy:
                out += chunk
    return bytes(out)


async def test_csv_frames_are_the_servers_own_copy_csv(
    reader: StreamReader, source_database_url: str
) -> None:
    """The frames of a full read are, byte for byte, the server's ``COPY ... (FORMAT csv)``
    (no header; NULL an empty field, an empty string ``""``), whatever batches cut them."""
    create_typed(source_database_url)
    shape = await reader.shape("typed")
    got = b"".join(await frames(reader, ReadPlan(shape, CSV, 2)))
    assert got == server_bytes(
        source_database_url, "COPY (SELECT * FROM typed ORDER BY id) TO STDOUT (FORMAT csv)"
    )
    first, second = got.split(b"\n")[:2]
    assert first.decode() == (
        "1,42,-7,1234567890.12,3.14159265358979323846264338327950288,1.5,0.1,t,plain,short,"
        "ab  ,2024-02-29,2024-02-29 23:59:59.123456,2024-02-29 18:14:59.123456+00,13:14:15.5,"
        "1 year 2 mons 3 days 04:05:06.5,12345678-1234-5678-1234-567812345678,\\x00ff10,"
        '"{""k"": [1, 2]}","{""n"": 1.50, ""é"": ""ü""}","{a,""b c""}","{1,NULL,3}",'
        '"{1.10,NaN}",10.1.2.3/8,7,happy,r,w'
    )
    assert second == b"2" + b"," * (len(NAMES) - 1)  # NULL: nothing between the commas


async def test_json_lines_frames_are_to_json_of_each_row_one_per_line(
    reader: StreamReader, source_database_url: str
) -> None:
    """Each row is one line, the server's ``to_json`` of it (a json value's line breaks as
    spaces); keys are the column names, odd ones included, numbers and booleans are JSON's,
    nested json stays nested, arrays are arrays, everything else is its text."""
    create_typed(source_database_url)
    shape = await reader.shape("typed")
    got = b"".join(await frames(reader, ReadPlan(shape, JSONL, 2)))
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(PINNED)
        own = connection.execute("SELECT to_json(t)::text FROM typed t ORDER BY id").fetchall()
    assert got == b"".join(
        (text.replace("\r", " ").replace("\n", " ") + "\n").encode() for (text,) in own
    )
    lines = got.split(b"\n")
    assert len(lines) == len(ROWS) + 1
    assert lines[-1] == b""
    parsed = [json.loads(line, parse_float=Decimal) for line in lines[:-1]]
    assert all(list(obj) == NAMES for obj in parsed)
    assert parsed[0] == {
        "id": 1,
        "i": 42,
        "s": -7,
        "amount": Decimal("1234567890.12"),
        "big": Decimal("3.14159265358979323846264338327950288"),
        "f4": Decimal("1.5"),
        "f8": Decimal("0.1"),
        "ok": True,
        "note": "plain",
        "short": "short",
        "code": "ab  ",
        "day": "2024-02-29",
        "at": "2024-02-29T23:59:59.123456",
        "atz": "2024-02-29T18:14:59.123456+00:00",
        "clock": "13:14:15.5",
        "span": "1 year 2 mons 3 days 04:05:06.5",
        "ref": "12345678-1234-5678-1234-567812345678",
        "blob": "\\x00ff10",
        "doc": {"k": [1, 2]},
        "docb": {"n": Decimal("1.50"), "é": "ü"},
        "tags": ["a", "b c"],
        "ints": [1, None, 3],
        "amounts": [Decimal("1.10"), "NaN"],
        "ip": "10.1.2.3/8",
        "n": 7,
        "m": "happy",
        "r": "r",
        WEIRD: "w",
    }
    assert parsed[1] == {name: None if name != "id" else 2 for name in NAMES}
    assert parsed[3]["note"] == HARD[2]["note"]  # control characters escaped, not raw
    assert parsed[3]["f4"] == "NaN"
    assert parsed[3]["f8"] == Decimal("-0")


async def test_empty_string_and_null_stay_apart_in_csv(
    reader: StreamReader,
    writer: StreamWriter,
    source_database_url: str,
    destination_url: str,
) -> None:
    """CSV writes NULL as nothing and an empty string as "": both arrive as they were."""
    run(
        source_database_url,
        "CREATE TABLE blanks (id int PRIMARY KEY, a text, b varchar(3))",
        "INSERT INTO blanks VALUES (1, '', NULL), (2, NULL, ''), (3, '\"\"', ',')",
    )
    shape = await reader.shape("blanks")
    assert b"".join(await frames(reader, ReadPlan(shape, CSV, 10), "blanks")) == (
        b'1,"",\n2,,""\n3,"""""",","\n'
    )
    await move(reader, writer, CSV, WriteMode.REPLACE, stream="blanks", table="blanks")
    with psycopg.connect(destination_url) as connection:
        found = connection.execute(
            "SELECT id, a IS NULL, a, b IS NULL, b FROM blanks ORDER BY id"
        ).fetchall()
    assert found == [
        (1, False, "", True, None),
        (2, True, None, False, ""),
        (3, False, '""', False, ","),
    ]


async def test_views_and_partitioned_tables_are_read_in_text_frames(
    reader: StreamReader, source_database_url: str
) -> None:
    """A view and a partitioned table (read through a query, not COPY of the table) give the
    same CSV and JSON Lines as the plain table they show."""
    run(
        source_database_url,
        "CREATE TABLE plain (id int PRIMARY KEY, note text)",
        "INSERT INTO plain VALUES (1, 'a,\"b\"'), (2, NULL), (3, '')",
        "CREATE VIEW shown AS SELECT * FROM plain",
        "CREATE TABLE parted (id int PRIMARY KEY, note text) PARTITION BY RANGE (id)",
        "CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (2)",
        "CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (2) TO (10)",
        "INSERT INTO parted SELECT * FROM plain",
    )
    for frame_format in TEXT_FORMATS:
        read = {}
        for stream in ("plain", "shown", "parted"):
            shape = await reader.shape(stream)
            got = b"".join(await frames(reader, ReadPlan(shape, frame_format, 2), stream))
            read[stream] = sorted(got.split(b"\n"))
        assert read["shown"] == read["plain"]
        assert read["parted"] == read["plain"]
    assert read["plain"] == sorted(
        [b"", b'{"id":1,"note":"a,\\"b\\""}', b'{"id":2,"note":null}', b'{"id":3,"note":""}']
    )


# --- batches ----------------------------------------------------------------------------------


async def decoded(url: str, batch: Batch, shape: Shape) -> list[Row]:
    """A batch's rows, whatever its format (loaded by PostgreSQL, or parsed as JSON)."""
    payload = b"".join([frame async for frame in batch.frames])  # type: ignore[misc]
    if batch.format is JSONL:
        return [tuple(json.loads(line).values()) for line in payload.split(b"\n")[:-1]]
    options = "FORMAT csv" if batch.format is CSV else "FORMAT binary"
    return await decode_binary_copy(url, payload, shape, options)


async def cut(
    reader: StreamReader, url: str, plan: ReadPlan
) -> list[tuple[list[Row], Position | None]]:
    """Each batch of a read: its rows, and where it ends."""
    out = []
    async with reader.read("wide", plan) as batches:
        async for batch in batches:
            out.append((await decoded(url, batch, plan.shape), batch.end))
    return out


WIDE = Shape((Column("id", "integer", False), Column("body", "text")), ("id",))


async def test_incremental_reads_cut_batches_at_the_same_rows_in_every_format(
    reader: StreamReader, source_database_url: str
) -> None:
    """Rows committed late below the position and rows after it come in the same batches,
    ending at the same positions, in CSV and JSON Lines as in binary."""
    run(
        source_database_url,
        "CREATE TABLE wide (id integer PRIMARY KEY, body text)",
        "INSERT INTO wide SELECT n, repeat('x', n) || E'\\n,\"' FROM generate_series(1, 7) n",
    )
    transactions = [Open(source_database_url) for _ in range(3)]
    for transaction, ids in zip(transactions, [(-1, -2, -3), (-4, -5), (-6,)], strict=True):
        for late_id in ids:
            transaction.run("INSERT INTO wide VALUES (%s, E'late\\nrow')", (late_id,))
    first = await cut(reader, source_database_url, ReadPlan(WIDE, BINARY, 3, cursor_field="id"))
    for transaction in transactions:
        transaction.commit()
    run(source_database_url, "INSERT INTO wide VALUES (8, 'new'), (9, ''), (10, NULL)")
    reads = {}
    for frame_format in (BINARY, CSV, JSONL):
        plan = ReadPlan(WIDE, frame_format, 2, cursor_field="id", after=first[-1][1])
        reads[frame_format] = await cut(reader, source_database_url, plan)
    assert [sorted(row[0] for row in rows) for rows, _ in reads[BINARY]] == [
        [-3, -2, -1],
        [-5, -4],
        [-6],
        [8, 9],
        [10],
    ]
    # a read's own snapshot differs from the next one's (decoding writes on the source)
    cuts = {
        frame_format: [(rows, end and (end.cursor, end.key)) for rows, end in read]
        for frame_format, read in reads.items()
    }
    assert cuts[CSV] == cuts[BINARY]
    assert cuts[JSONL] == cuts[BINARY]


async def test_text_batches_hold_batch_rows_in_chunks_of_about_256_kib(
    reader: StreamReader, source_database_url: str
) -> None:
    """A full read's text batches hold batch_rows rows each, handed out in several chunks of
    at most about 256 KiB (a row is never split between chunks), never the batch at once."""
    run(
        source_database_url,
        "CREATE TABLE wide (id integer PRIMARY KEY, body text)",
        "INSERT INTO wide SELECT n, repeat(md5(n::text), 31) FROM generate_series(1, 3000) n",
    )
    for frame_format in TEXT_FORMATS:
        async with reader.read("wide", ReadPlan(WIDE, frame_format, 1000)) as batches:
            sizes = []
            async for batch in batches:
                chunks = [bytes(chunk) async for chunk in batch.frames]  # type: ignore[arg-type]
                assert len(chunks) > 1
                assert all(len(chunk) <= CHUNK_BYTES + 1100 for chunk in chunks)
                assert all(chunk.endswith(b"\n") for chunk in chunks)
                sizes.append(sum(chunk.count(b"\n") for chunk in chunks))
        assert sizes == [1000, 1000, 1000]


async def test_a_json_lines_row_that_would_span_lines_fails_the_read(
    reader: StreamReader, source_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk is checked to hold one line per row: were a json value's line breaks left
    in, the read fails instead of handing out a row as two lines."""
    run(
        source_database_url,
        "CREATE TABLE docs (id int PRIMARY KEY, doc json)",
        "INSERT INTO docs VALUES (1, E'{\"a\":\\n1}')",
    )

    async def never(*_: object) -> bool:
        return False

    monkeypatch.setattr(read_formats, "may_break_lines", never)
    monkeypatch.setattr(reader_module, "may_break_lines", never)
    shape = await reader.shape("docs")
    with pytest.raises(StreamFailed, match="spans several lines"):
        await frames(reader, ReadPlan(shape, JSONL, 10), "docs")


# --- the writer, given text frames -----------------------------------------------------------

NOTES = Shape(
    (Column("id", "bigint", False), Column("note", "text"), Column("tags", "text[]")), ("id",)
)
NOTES_ROWS = [
    (1, 'a\nb, "c"', ["x"]),
    (2, None, None),
    (3, "", None),
    (4, "é😀", ["a,b", None]),
]
PAYLOADS = {
    CSV: '1,"a\nb, ""c""",{x}\n2,,\n3,"",\n4,é😀,"{""a,b"",NULL}"\n'.encode(),
    JSONL: (
        '{"id":1,"note":"a\\nb, \\"c\\"","tags":["x"]}\n{"id":2}\n'
        '{"id":3,"note":"","tags":null,"not a column":1}\n'
        '{"note":"\\u00e9😀","tags":["a,b",null],"id":4}\n'
    ).encode(),
}
"""The same rows in each format; in JSON Lines a missing key is NULL and another is ignored."""


async def cut_into(payload: bytes, size: int) -> AsyncIterator[bytes]:
    """``payload`` in pieces of ``size`` bytes, cut through records and characters."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def notes(url: str, table: str = "notes") -> list[Row]:
    """``table``'s rows by id."""
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT id, note, tags FROM {} ORDER BY id").format(sql.Identifier(table))
        return list(connection.execute(query).fetchall())


@pytest.mark.parametrize("mode", [WriteMode.REPLACE, WriteMode.UPSERT, WriteMode.APPEND])
@pytest.mark.parametrize("frame_format", TEXT_FORMATS, ids=lambda f: f.value)
async def test_text_frames_cut_anywhere_land_as_their_rows(
    writer: StreamWriter, destination_url: str, frame_format: FrameFormat, mode: WriteMode
) -> None:
    """Frames cut every 5 bytes (inside records and UTF-8 characters) land as whole rows; the
    writer tells the rows written and the bytes it was given."""
    payload = PAYLOADS[frame_format]
    shape = NOTES if mode is not WriteMode.APPEND else Shape(NOTES.columns)
    async with writer.open(PIPELINE, "notes", "notes", shape, mode, 1) as sink:
        batch = Batch(frame_format, cut_into(payload, 5), Position("4", ("4",)))
        written = await sink.write(batch)
        await sink.finish()
    assert (written.rows, written.bytes) == (4, len(payload))
    assert notes(destination_url) == NOTES_ROWS


async def test_more_json_lines_in_one_replace_each_batch_counted_alone(
    writer: StreamWriter, destination_url: str
) -> None:
    """Batches of a full refresh share one transaction: each batch's count is its own rows
    (the lines of the one before are gone), and an empty batch is no row."""
    async with writer.open(PIPELINE, "notes", "notes", NOTES, WriteMode.REPLACE, 1) as sink:
        first = await sink.write(Batch(JSONL, cut_into(PAYLOADS[JSONL], 1000)))
        none = await sink.write(Batch(JSONL, cut_into(b"", 1)))
        again = b'{"id":5,"note":"five"}\n'
        second = await sink.write(Batch(JSONL, cut_into(again, 1000)))
        await sink.finish()
    assert [first.rows, none.rows, second.rows] == [4, 0, 1]
    assert notes(destination_url) == [*NOTES_ROWS, (5, "five", None)]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"id":1}\n\n{"id":2}\n', "a line of the batch is empty"),
        (b'{"id":1}\n[1]\n', "SQLSTATE 22023"),
        (b'{"id":1,\n"note":"x"}\n', "SQLSTATE 22P02"),
    ],
)
async def test_json_lines_that_are_not_one_object_each_fail_the_batch(
    writer: StreamWriter, destination_url: str, payload: bytes, message: str
) -> None:
    """An empty line, a line that is not an object, or an object over two lines fails the
    batch for good, and nothing of it lands."""
    async with writer.open(PIPELINE, "notes", "notes", NOTES, WriteMode.UPSERT, 1) as sink:
        with pytest.raises(StreamFailed, match=message) as failed:
            await sink.write(Batch(JSONL, cut_into(payload, 1000), Position("2", ("2",))))
    assert not failed.value.retryable
    assert notes(destination_url) == []


async def test_a_user_defined_type_takes_text_frames(
    writer: StreamWriter, destination_url: str
) -> None:
    """An enum, a domain and an array of the enum (no binary: their oids differ by server)
    take CSV and JSON Lines, read by their own input functions."""
    run(destination_url, SCHEMA)
    shape = Shape(
        (
            Column("id", "bigint", False),
            Column("m", "public.mood"),
            Column("ms", "public.mood[]"),
            Column("n", "public.positive"),
        ),
        ("id",),
    )
    payloads = {
        CSV: b'1,"so, ""so""","{sad,""so, \\""so\\""""}",5\n',
        JSONL: b'{"id":1,"m":"happy","ms":["happy",null],"n":6}\n',
    }
    for frame_format, payload in payloads.items():
        table = f"moods_{frame_format.value}"
        async with writer.open(PIPELINE, table, table, shape, WriteMode.UPSERT, 1) as sink:
            assert tuple(sink.formats) == (CSV, JSONL, FrameFormat.ROWS)
            await sink.write(Batch(frame_format, cut_into(payload, 3), Position("1", ("1",))))
    with psycopg.connect(destination_url) as connection:
        query = sql.SQL("SELECT id, m::text, ms::text, n FROM {}")
        found = [
            connection.execute(query.format(sql.Identifier(f"moods_{f.value}"))).fetchall()
            for f in payloads
        ]
    assert found == [
        [(1, 'so, "so"', '{sad,"so, \\"so\\""}', 5)],
        [(1, "happy", "{happy,NULL}", 6)],
    ]


async def test_a_stream_with_a_user_defined_type_opens_again(
    writer: StreamWriter, destination_url: str
) -> None:
    """A source spells a user type schema-qualified (public.mood); the table created with it
    must not look retyped when the stream is opened again by the next run."""
    run(destination_url, SCHEMA)
    shape = Shape((Column("id", "bigint", False), Column("m", "public.mood")), ("id",))
    for epoch in (1, 2):
        async with writer.open(PIPELINE, "moods", "moods", shape, WriteMode.UPSERT, epoch):
            pass


@pytest.mark.parametrize("frame_format", TEXT_FORMATS, ids=lambda f: f.value)
async def test_an_upserted_batch_holding_a_key_twice_keeps_its_last_row(
    writer: StreamWriter, destination_url: str, frame_format: FrameFormat
) -> None:
    """A changelog (a folder source) may hold a key twice in one batch: the last occurrence
    wins, as if the rows had come one batch each, instead of the batch failing."""
    payload = {
        CSV: b"1,first,\n2,other,\n1,second,\n1,last,\n",
        JSONL: b'{"id":1,"note":"first"}\n{"id":2,"note":"other"}\n{"id":1,"note":"second"}\n'
        b'{"id":1,"note":"last"}\n',
    }[frame_format]
    async with writer.open(PIPELINE, "notes", "notes", NOTES, WriteMode.UPSERT, 1) as sink:
        await sink.write(Batch(frame_format, cut_into(payload, 1000), Position("1", ("1",))))
    assert notes(destination_url) == [(1, "last", None), (2, "other", None)]
