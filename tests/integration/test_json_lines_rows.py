"""JSON Lines decoded by the writer (``adapters/connectors/postgres/json_lines.py``) land as
the same rows as PostgreSQL's own ``json_populate_record`` makes of them, the path it
replaced: for every scalar type of the mapping, with NULLs, missing and extra keys, values of
the wrong kind (a number as a string, an object in a text column), escapes and non-ASCII
text. Where the server refuses a batch, the decoded path refuses it too.

The oracle is the server's path on the same lines, run beside it in the same database."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from thedata.adapters.connectors.postgres.copying import copy_batch, row_encoding
from thedata.adapters.connectors.postgres.json_lines import JsonLinesRows
from thedata.application.ports.streams import Batch, FrameFormat, StreamFailed

pytestmark = pytest.mark.postgres

COLUMNS = {
    "big": "bigint",
    "small": "smallint",
    "exact": "numeric",
    "money": "numeric(12,2)",
    "ratio": "double precision",
    "single": "real",
    "flag": "boolean",
    "name": "text",
    "short": "varchar(12)",
    "code": "char(4)",
    "day": "date",
    "at": "timestamptz",
    "local": "timestamp",
    "span": "interval",
    "id": "uuid",
    "blob": "bytea",
    "doc": "jsonb",
    "raw": "json",
    "address": "inet",
    "mood": "mood",
    "positive": "positive",
}
SETUP = (
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
    "CREATE DOMAIN positive AS integer CHECK (VALUE > 0);"
)

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "big": st.integers(-(2**63), 2**63 - 1),
    "small": st.integers(-(2**15), 2**15 - 1),
    "exact": st.decimals(allow_nan=False, places=6).map(lambda d: json.loads(str(d))),
    "money": st.integers(-(10**9), 10**9).map(lambda n: n / 100),
    "ratio": st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["NaN", "Infinity"]),
    "single": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "name": text | st.just("tab\there, line\nbreak, back\\slash, \\N, ünïcödé ☃"),
    "short": st.text(max_size=12, alphabet='abc,\t\\"é'),
    "code": st.text(min_size=1, max_size=4, alphabet="abcd "),
    "day": st.dates().map(str),
    "at": st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    "local": st.datetimes().map(lambda t: t.isoformat()),
    "span": st.sampled_from(["1 day", "01:02:03.5", "1 year 2 mons", "-3 days"]),
    "id": st.uuids().map(str),
    "blob": st.binary(max_size=6).map(lambda b: "\\x" + b.hex()),
    "doc": anything,
    "raw": anything,
    "address": st.ip_addresses().map(str),
    "mood": st.sampled_from(["sad", "ok", "happy"]),
    "positive": st.integers(1, 2**31 - 1),
}
# values of another kind than the column's (the server reads their text, or refuses them)
ODD = st.sampled_from(["42", "7.5", "true", "t", "", {"a": 1}, [1, 2], 12, True, "happy"])


@st.composite
def records(draw: st.DrawFn) -> str:
    """One JSON Lines record: each column's key missing, null, plausible or odd, in any
    order, sometimes with a key no column has, sometimes a key twice."""
    items = []
    for name in draw(st.permutations(list(COLUMNS))):
        choice = draw(st.sampled_from(["plausible"] * 6 + ["missing", "null", "odd"]))
        if choice == "missing":
            continue
        value = None if choice == "null" else draw(ODD if choice == "odd" else PLAUSIBLE[name])
        items.append((name, value))
    if draw(st.booleans()):
        items.append(("not_a_column", draw(anything)))
    if items and draw(st.integers(0, 9)) == 0:
        items.append((items[0][0], draw(PLAUSIBLE[items[0][0]])))  # the last one counts
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in items) + "}"


@pytest.fixture
def connection(migrated_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(migrated_database_url, autocommit=True) as plain:
        plain.execute(SETUP)
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
            for name, kind in COLUMNS.items()
        )
        for table in ("decoded", "populated"):
            plain.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), columns))
        yield plain


async def frames(data: bytes, cut: int) -> AsyncIterator[bytes]:
    """``data`` in frames of ``cut`` bytes: lines cut anywhere."""
    for start in range(0, len(data), cut):
        yield data[start : start + cut]


async def written(url: str, table: str, data: bytes, cut: int, decoded: bool) -> list[Any] | str:
    """The table's rows after a batch of ``data`` (as text, in order), or the refusal."""
    async with await psycopg.AsyncConnection.connect(url) as connection:
        oids = [
            row[0]
            for row in await (
                await connection.execute(
                    "SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass"
                    " AND attnum > 0 ORDER BY attnum",
                    (table,),
                )
            ).fetchall()
        ]
        encoding = await row_encoding(connection, oids)
        if not decoded:  # the server's path, as the writer took it before
            encoding = type(encoding)(encoding.binary, encoding.types)
        batch = Batch(FrameFormat.JSON_LINES, frames(data, cut))
        try:
            async with connection.transaction():
                await copy_batch(connection, sql.Identifier(table), list(COLUMNS), batch, encoding)
        except (StreamFailed, psycopg.Error) as refused:
            return f"refused: {type(refused).__name__}"
        # a json column compared as jsonb: the decoded path keeps the line's own text of a
        # json value (as the json type keeps its input), the server's re-spells its escapes
        shown = sql.SQL(", ").join(
            sql.SQL("{}::jsonb" if kind == "json" else "{}").format(sql.Identifier(name))
            for name, kind in COLUMNS.items()
        )
        cursor = await connection.execute(
            sql.SQL("SELECT row({})::text FROM {}").format(shown, sql.Identifier(table))
        )
        rows = [row[0] for row in await cursor.fetchall()]
        await connection.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
        await connection.commit()
        return rows


def test_every_column_here_takes_the_decoded_path() -> None:
    """No type of the table sends the batch the server's way (else the test compares the
    server's path with itself)."""
    kinds = [("N", "b", 20)] * len(COLUMNS)
    assert JsonLinesRows.for_columns(list(COLUMNS), kinds) is not None
    assert JsonLinesRows.for_columns(["a"], [("A", "b", 1007)]) is None


@settings(
    max_examples=int(os.environ.get("THEDATA_JSON_LINES_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(records(), min_size=1, max_size=6), cut=st.integers(1, 400))
async def test_decoded_lines_land_as_the_servers_own_reading(
    connection: psycopg.Connection[Any], batch: list[str], cut: int
) -> None:
    """The same rows, in the same order, or both refused."""
    url = connection.info.dsn
    data = ("\n".join(batch) + "\n").encode()
    populated = await written(url, "populated", data, cut, decoded=False)
    decoded = await written(url, "decoded", data, cut, decoded=True)
    if isinstance(populated, str):
        assert isinstance(decoded, str), (populated, decoded)
    else:
        assert decoded == populated
