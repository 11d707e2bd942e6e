"""Folders as sources and destinations, beyond the contracts: files people drop in, files the
engine leaves behind, locks held by processes that die, links that lead elsewhere."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import time
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.file import reader as folder_reader_module
from thedata.adapters.connectors.file.storage import LOCK_NAME
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
from thedata.domain.data_sources import DataSourceKind

ORG = uuid.uuid4()
SHAPE = Shape((Column("id", "bigint", False), Column("updated", "bigint"), Column("note", "text")))
KEYED = Shape(SHAPE.columns, ("id",))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / str(ORG) / "files"
    path.mkdir(parents=True)
    return path


def factory(folder: Path) -> DefaultConnectorFactory:
    return DefaultConnectorFactory(folder.parents[1], NetworkPolicy(allow_private=True), 2, None)


def reader(folder: Path, file_format: str = "csv") -> StreamReader:
    made = factory(folder)
    config = made.validate(ORG, DataSourceKind.FILE, {"path": "files", "format": file_format})
    return made.reader(ORG, DataSourceKind.FILE, config.config, {})


def writer(folder: Path, file_format: str = "csv") -> StreamWriter:
    made = factory(folder)
    config = made.validate(ORG, DataSourceKind.FILE, {"path": "files", "format": file_format})
    return made.writer(ORG, DataSourceKind.FILE, config.config, {})


async def _rows(rows: Sequence[tuple[Any, ...]]) -> AsyncIterator[tuple[object, ...]]:
    for row in rows:
        yield row


def rows_batch(rows: Sequence[tuple[Any, ...]], end: Position | None = None) -> Batch:
    return Batch(FrameFormat.ROWS, _rows(rows), end)


async def read_rows(source: StreamReader, stream: str, plan: ReadPlan) -> list[list[Any]]:
    """Each batch's rows (ROWS frames) of a read."""
    batches = []
    async with source.read(stream, plan) as read:
        async for batch in read:
            batches.append([tuple(row) async for row in batch.frames])
    return batches


async def test_a_csv_file_someone_dropped_in_is_a_stream(folder: Path) -> None:
    """A header (quoted names, a byte-order mark), CRLF line ends, quoted line breaks, NULL as
    an empty field and an empty string as "", no final line break: read as written."""
    (folder / "people.csv").write_bytes(
        b'\xef\xbb\xbfid,"last, first",score,ok\r\n'
        b'1,"Doe, Jane",1.5,true\r\n'
        b'2,"",,false\r\n'
        b'3,"two\nlines",7,\r\n'
        b"4,,-2,true"
    )
    source = reader(folder)
    shape = await source.shape("people")
    assert [(c.name, c.type) for c in shape.columns] == [
        ("id", "bigint"),
        ("last, first", "text"),
        ("score", "numeric"),
        ("ok", "boolean"),
    ]
    (batch,) = await read_rows(source, "people", ReadPlan(shape, FrameFormat.ROWS, 100))
    from decimal import Decimal

    assert batch == [
        (1, "Doe, Jane", Decimal("1.5"), True),
        (2, "", None, False),
        (3, "two\nlines", Decimal("7"), None),
        (4, None, Decimal("-2"), True),
    ]


async def test_csv_frames_of_a_dropped_file_are_its_records_without_the_header(
    folder: Path,
) -> None:
    """Passed through untouched, apart from the header and a final line break added."""
    (folder / "t.csv").write_bytes(b'a,b\n1,"x,y"\n2,\n3,""')
    source = reader(folder)
    shape = await source.shape("t")
    async with source.read("t", ReadPlan(shape, FrameFormat.CSV, 2)) as read:
        payloads = [b"".join([_bytes(c) async for c in batch.frames]) async for batch in read]
    assert payloads == [b'1,"x,y"\n2,\n', b'3,""\n']


def _bytes(frame: object) -> bytes:
    assert isinstance(frame, bytes)
    return frame


async def test_a_jsonl_file_with_keys_in_any_order_and_blank_lines(folder: Path) -> None:
    """Keys in first-seen order; a missing key is NULL; blank lines are no rows."""
    (folder / "events.jsonl").write_bytes(
        b'{"id": 1, "tags": {"a": [1, 2]}, "name": "x"}\n\n{"name": "y", "id": 2}\n   \n'
        b'{"id": 3, "name": null, "extra": true}'
    )
    source = reader(folder, "jsonl")
    shape = await source.shape("events")
    assert [(c.name, c.type) for c in shape.columns] == [
        ("id", "bigint"),
        ("tags", "jsonb"),
        ("name", "text"),
        ("extra", "boolean"),
    ]
    (batch,) = await read_rows(source, "events", ReadPlan(shape, FrameFormat.ROWS, 100))
    assert batch == [
        (1, {"a": [1, 2]}, "x", None),
        (2, None, "y", None),
        (3, None, None, True),
    ]


async def test_a_malformed_csv_fails_the_stream_for_good(folder: Path) -> None:
    (folder / "bad.csv").write_bytes(b'a,b\n1,"never closed\n2,3\n')
    source = reader(folder)
    shape = await source.shape("bad")
    with pytest.raises(StreamFailed, match="quoted field") as failed:
        await read_rows(source, "bad", ReadPlan(shape, FrameFormat.ROWS, 100))
    assert not failed.value.retryable


async def test_an_incremental_read_of_an_unordered_file_comes_sorted(folder: Path) -> None:
    """Rows not in cursor order are sorted (in memory, under the cap) and cut into batches;
    the next read after the last end gives only what came after it."""
    (folder / "o.csv").write_bytes(b"id,updated,note\n3,20,c\n1,20,a\n2,10,b\n4,5,d\n")
    source = reader(folder)
    plan = ReadPlan(KEYED, FrameFormat.ROWS, 2, cursor_field="updated")
    assert await read_rows(source, "o", plan) == [
        [(4, 5, "d"), (2, 10, "b")],
        [(1, 20, "a"), (3, 20, "c")],
    ]
    with (folder / "o.csv").open("ab") as f:
        f.write(b"0,20,tie smaller key\n9,20,tie larger key\n")
    after = ReadPlan(KEYED, FrameFormat.ROWS, 2, "updated", Position("20", ("3",)))
    assert await read_rows(source, "o", after) == [[(9, 20, "tie larger key")]]


async def test_rows_past_the_sort_cap_come_as_one_batch_or_cut_when_ordered(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the in-memory cap: an ordered file is still cut every batch_rows rows; an
    unordered one is one batch ending at its largest (cursor, key)."""
    monkeypatch.setattr(folder_reader_module, "SORT_BYTES", 10)
    lines = [f"{i},{i},n{i}\n" for i in range(1, 8)]
    (folder / "ordered.csv").write_text("id,updated,note\n" + "".join(lines))
    (folder / "shuffled.csv").write_text("id,updated,note\n" + "".join(reversed(lines)))
    source = reader(folder)
    plan = ReadPlan(KEYED, FrameFormat.ROWS, 3, cursor_field="updated")
    async with source.read("ordered", plan) as read:
        ends = [batch.end async for batch in read]
    assert [e.cursor for e in ends if e is not None] == ["3", "6", "7"]
    batches = await read_rows(source, "shuffled", plan)
    assert [len(b) for b in batches] == [7]


async def test_a_null_cursor_in_a_file_fails_naming_the_column(folder: Path) -> None:
    (folder / "o.csv").write_bytes(b"id,updated,note\n1,1,a\n2,,b\n")
    plan = ReadPlan(KEYED, FrameFormat.ROWS, 10, cursor_field="updated")
    with pytest.raises(StreamFailed, match="'updated'"):
        await read_rows(reader(folder), "o", plan)


async def test_files_left_by_dead_attempts_are_swept_but_not_a_live_one(folder: Path) -> None:
    """A data file no manifest names goes at the next publish, unless an attempt still holds
    it (it is writing it now)."""
    out = writer(folder)
    async with out.open("p", "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
        await sink.write(rows_batch([(1, 1, "a")]))
        await sink.finish()
    stream_folder = folder / "t"
    (stream_folder / "1-0123456789ab.csv").write_text("left by a dead attempt")
    (stream_folder / ".manifest-0123456789ab.tmp").write_text("{}")
    (stream_folder / "notes.txt").write_text("not the engine's: kept")
    async with out.open("p", "s", "t", SHAPE, WriteMode.REPLACE, 2) as slow:
        await slow.write(rows_batch([(2, 2, "b")]))  # its file is written and held
        async with out.open("p", "other", "t", SHAPE, WriteMode.APPEND, 1) as other:
            await other.write(rows_batch([(3, 3, "c")], Position("3")))
        names = {path.name for path in stream_folder.iterdir()}
        assert "1-0123456789ab.csv" not in names
        assert ".manifest-0123456789ab.tmp" not in names
        assert "notes.txt" in names
        await slow.finish()  # its file survived the sweep
    published = json.loads((stream_folder / "manifest.json").read_text())
    assert (stream_folder / published["files"][0]).read_text() == "id,updated,note\n2,2,b\n"


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


async def test_a_lock_held_by_a_process_that_dies_is_released(folder: Path) -> None:
    """While another process holds the stream's lock, an open waits the connector timeout
    and fails retryably; once that process is killed (SIGKILL), the next open goes through."""
    out = writer(folder)
    async with out.open("p", "s", "t", SHAPE, WriteMode.APPEND, 1):
        pass
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, str(folder / "t" / LOCK_NAME), stdout=PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        started = time.monotonic()
        with pytest.raises(StreamFailed) as waited:
            async with out.open("p", "s", "t", SHAPE, WriteMode.APPEND, 2):
                pass
        assert waited.value.retryable
        assert 1.5 < time.monotonic() - started < 10
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        async with out.open("p", "s", "t", SHAPE, WriteMode.APPEND, 2) as sink:
            await sink.write(rows_batch([(1, 1, "a")], Position("1")))
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


async def test_a_stream_folder_that_is_a_link_elsewhere_is_refused(
    folder: Path, tmp_path: Path
) -> None:
    """Nothing is written through a symbolic link, even one that stays in the data root."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "t").symlink_to(elsewhere)
    with pytest.raises(StreamFailed, match="not a folder") as refused:
        async with writer(folder).open("p", "s", "t", SHAPE, WriteMode.APPEND, 1):
            pass
    assert not refused.value.retryable
    assert list(elsewhere.iterdir()) == []


async def test_a_data_file_replaced_by_a_link_is_not_followed(folder: Path, tmp_path: Path) -> None:
    out = writer(folder)
    async with out.open("p", "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
        await sink.write(rows_batch([(1, 1, "a")]))
        await sink.finish()
    published = json.loads((folder / "t" / "manifest.json").read_text())
    data = folder / "t" / published["files"][0]
    secret = tmp_path / "secret.csv"
    secret.write_text("id,updated,note\n666,6,stolen\n")
    data.unlink()
    data.symlink_to(secret)
    with pytest.raises(StreamFailed, match="symbolic link"):
        await read_rows(reader(folder), "t", ReadPlan(SHAPE, FrameFormat.ROWS, 10))


async def test_a_damaged_manifest_fails_the_stream_and_names_no_path(folder: Path) -> None:
    out = writer(folder)
    async with out.open("p", "s", "t", SHAPE, WriteMode.APPEND, 1):
        pass
    (folder / "t" / "manifest.json").write_text('{"format": "csv", "columns": 7}')
    with pytest.raises(StreamFailed) as failed:
        async with out.open("p", "s", "t", SHAPE, WriteMode.APPEND, 2):
            pass
    assert str(folder) not in str(failed.value)


async def test_names_that_could_leave_the_folder_are_refused(folder: Path) -> None:
    for table in ("../t", "a/b", ".hidden", "..", "_thedata_x"):
        with pytest.raises(StreamFailed):
            async with writer(folder).open("p", "s", table, SHAPE, WriteMode.APPEND, 1):
                pass
        with pytest.raises(StreamFailed):
            await reader(folder).shape(table)
    assert list(folder.iterdir()) == []  # noqa: ASYNC240 - a test, after the fact


async def test_the_estimate_is_the_manifests_count_or_a_plain_files_size_over_its_rows(
    folder: Path,
) -> None:
    out = writer(folder)
    async with out.open("p", "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
        await sink.write(rows_batch([(n, n, "x" * (n % 7)) for n in range(250)]))
        await sink.finish()
    assert await reader(folder).estimate("t") == 250
    # a plain file's estimate assumes its rows are as long as its head's on average
    lines = "".join(f"{n:05},{n % 97:02},{'y' * (n % 5)}\n" for n in range(5000))
    (folder / "plain.csv").write_text("id,updated,note\n" + lines)
    estimate = await reader(folder).estimate("plain")
    assert estimate is not None
    assert 4500 < estimate < 5500


async def test_discovery_lists_the_tables_published_in_the_folder_as_runs_read_them(
    folder: Path, tmp_path: Path
) -> None:
    """A table the engine published (a folder with a manifest) is a stream with its
    columns' PostgreSQL types and its key, and where a file has the same name the table is
    the stream, as a run reads it; folders without a manifest of this format, hidden or
    damaged ones, and links to a published folder elsewhere are not streams."""
    out = writer(folder)
    for table, shape in (("orders", KEYED), ("plain", SHAPE)):
        async with out.open("p", "s", table, shape, WriteMode.REPLACE, 1) as sink:
            await sink.write(rows_batch([(1, 1, "a")]))
            await sink.finish()
    (folder / "plain.csv").write_text("x\n1\n")  # the published table "plain" wins
    (folder / "loose.csv").write_text("name,count\nada,3\n")
    (folder / "empty").mkdir()
    (folder / ".hidden").mkdir()
    (folder / "damaged").mkdir()
    (folder / "damaged" / "manifest.json").write_text("{not json")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder / "orders", elsewhere)
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    made = factory(folder)
    config = made.validate(ORG, DataSourceKind.FILE, {"path": "files", "format": "csv"})
    found = await made.connector(ORG, DataSourceKind.FILE, config.config, {}).discover()
    by_name = {stream.name: stream for stream in found}
    assert sorted(by_name) == ["loose", "orders", "plain"]
    columns = [(f.name, f.type) for f in by_name["orders"].fields]
    assert columns == [("id", "bigint"), ("updated", "bigint"), ("note", "text")]
    assert by_name["orders"].primary_key == ("id",)
    assert [f.name for f in by_name["plain"].fields] == ["id", "updated", "note"]
    assert by_name["plain"].primary_key is None
    # the other format sees no published table here
    jsonl = made.validate(ORG, DataSourceKind.FILE, {"path": "files", "format": "jsonl"})
    assert await made.connector(ORG, DataSourceKind.FILE, jsonl.config, {}).discover() == []
