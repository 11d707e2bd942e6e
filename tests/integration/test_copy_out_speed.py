"""The fast path of reading a ``COPY TO STDOUT`` (``copy_out``) where it leaves the common case.

Rows are pulled from libpq in one tight loop that reads the socket itself before waiting on
it and takes the end of the data and its result without psycopg's ``copy_from``. These
tests put that loop where it can go wrong: rows far larger than libpq's input buffer (each
read brings part of a message), and an error that arrives after rows have streamed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_stream_readers import (
    decode_binary_copy,
    postgres_reader_for,
    postgres_source,
)
from tests.integration.test_postgres_reader import run
from thedata.adapters.connectors import DefaultConnectorFactory
from thedata.application.ports import Batch, FrameFormat, ReadPlan, StreamFailed, StreamReader

BINARY, CSV, JSONL = FrameFormat.POSTGRES_BINARY, FrameFormat.CSV, FrameFormat.JSON_LINES
FORMATS = [BINARY, CSV, JSONL]
REPEATS = 3200
"""An md5 repeated this often makes a value of about 100 KiB, six times libpq's buffer."""


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


def md5(text: str) -> str:
    """PostgreSQL's ``md5`` of a text, computed here."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


async def values_of(url: str, batch: Batch, plan: ReadPlan) -> list[tuple[str, ...]]:
    """The batch's rows as text, each format decoded by a parser of its own."""
    frames: list[bytes] = [frame async for frame in batch.frames]  # type: ignore[misc]
    payload = b"".join(frames)
    if batch.format is BINARY:
        decoded = await decode_binary_copy(url, payload, plan.shape)
        return [tuple(str(value) for value in row) for row in decoded]
    if batch.format is CSV:
        return [tuple(row) for row in csv.reader(io.StringIO(payload.decode()))]
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    return [tuple(str(line[name]) for name in plan.shape.names) for line in lines]


@pytest.mark.parametrize("frame_format", FORMATS, ids=lambda f: f.value)
async def test_rows_larger_than_libpqs_buffer_come_whole(
    reader: StreamReader, source_database_url: str, frame_format: FrameFormat
) -> None:
    """Rows of about 100 KiB, each arriving over several reads of the socket, come in their
    batches exactly as stored."""
    run(
        source_database_url,
        "CREATE TABLE big (id integer PRIMARY KEY, body text)",
        "INSERT INTO big SELECT n, repeat(md5(n::text), %s) FROM generate_series(1, 30) n",
        params=(REPEATS,),
    )
    plan = ReadPlan(await reader.shape("big"), frame_format, 7)
    batches = []
    async with reader.read("big", plan) as found:
        async for batch in found:
            batches.append(await values_of(source_database_url, batch, plan))
    assert [len(rows) for rows in batches] == [7, 7, 7, 7, 2]
    expected = [(str(n), md5(str(n)) * REPEATS) for n in range(1, 31)]
    assert [row for rows in batches for row in rows] == expected


@pytest.mark.parametrize("frame_format", FORMATS, ids=lambda f: f.value)
async def test_an_error_after_rows_have_streamed_fails_the_read_in_our_words(
    reader: StreamReader, source_database_url: str, frame_format: FrameFormat
) -> None:
    """A division by zero at the 2500th row of a view: the batches before it are whole, then
    the read fails for good, naming the SQLSTATE and quoting no driver text."""
    run(
        source_database_url,
        "CREATE VIEW boom AS SELECT n AS id, 10000 / (2500 - n) AS x"
        " FROM generate_series(1, 5000) AS n",
    )
    plan = ReadPlan(await reader.shape("boom"), frame_format, 1000)
    whole = []
    with pytest.raises(StreamFailed) as failed:
        async with reader.read("boom", plan) as found:
            async for batch in found:
                whole.append(await values_of(source_database_url, batch, plan))
    assert "22012" in str(failed.value)
    assert "division" not in str(failed.value)
    assert not failed.value.retryable
    assert [[row[0] for row in rows] for rows in whole] == [
        [str(n) for n in range(1, 1001)],
        [str(n) for n in range(1001, 2001)],
    ]
