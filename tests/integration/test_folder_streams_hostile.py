"""Folder streams under hostile files and interleavings: forged manifests, sweeps racing new
files, lines still being written, huge records, broken JSON and UTF-8 (each test once showed
a bug)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_folder_streams import (
    KEYED,
    ORG,
    SHAPE,
    read_rows,
    reader,
    rows_batch,
    writer,
)
from thedata.adapters.connectors.file import parts as parts_module
from thedata.adapters.connectors.file.manifest import load
from thedata.adapters.connectors.file.storage import StreamFolder
from thedata.application.ports import Column, FrameFormat, Position, ReadPlan, Shape, StreamFailed
from thedata.application.ports.streams import WriteMode

WIDER = Shape((*SHAPE.columns, Column("extra", "text")))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / str(ORG) / "files"
    path.mkdir(parents=True)
    return path


async def _published(folder: Path, shape: Shape = SHAPE) -> Path:
    async with writer(folder).open("p", "s", "t", shape, WriteMode.APPEND, 1) as sink:
        await sink.write(rows_batch([(1, 1, "mine")], Position("1")))
    return folder / "t" / "manifest.json"


def _point_manifest_at(manifest: Path, name: str) -> None:
    document = json.loads(manifest.read_text())
    document["files"] = [name]
    manifest.write_text(json.dumps(document))


async def test_a_manifest_naming_a_file_outside_the_folder_is_not_read(
    folder: Path, tmp_path: Path
) -> None:
    """A manifest is a file in the tenant's folder: its file names must not lead out of it."""
    other_tenant = tmp_path / "other-org"
    other_tenant.mkdir()
    (other_tenant / "secret.csv").write_text("id,updated,note\n666,6,stolen\n")
    manifest = await _published(folder)
    _point_manifest_at(manifest, "../../../other-org/secret.csv")
    try:
        batches = await read_rows(reader(folder), "t", ReadPlan(SHAPE, FrameFormat.ROWS, 10))
    except StreamFailed:
        return
    assert (666, 6, "stolen") not in [row for batch in batches for row in batch]


async def test_a_manifest_naming_an_absolute_path_is_not_read(folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("id,updated,note\n666,6,stolen\n")
    manifest = await _published(folder)
    _point_manifest_at(manifest, str(secret))
    try:
        batches = await read_rows(reader(folder), "t", ReadPlan(SHAPE, FrameFormat.ROWS, 10))
    except StreamFailed:
        return
    assert (666, 6, "stolen") not in [row for batch in batches for row in batch]


async def test_widening_never_writes_outside_the_stream_folder(
    folder: Path, tmp_path: Path
) -> None:
    """A source that gains a column makes the writer rewrite the CSV files the manifest names,
    under a name made from theirs: a crafted name must not make it create a file elsewhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x-1.csv").write_text("id,updated,note\n7,7,planted\n")
    manifest = await _published(folder)
    _point_manifest_at(manifest, "../../../outside/x-1.csv")
    try:
        async with writer(folder).open("p", "s", "t", WIDER, WriteMode.APPEND, 2):
            pass
    except StreamFailed:
        pass
    assert sorted(p.name for p in outside.iterdir()) == ["x-1.csv"]


def test_a_folder_streams_shape_leaks_no_descriptor(folder: Path) -> None:
    """Each look at a published stream opens its manifest to see whether there is one."""
    import asyncio

    asyncio.run(_published(folder))
    source = reader(folder)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(50):
        asyncio.run(source.shape("t"))
    assert len(list(Path("/proc/self/fd").iterdir())) - before < 5


async def test_a_broken_json_line_after_the_sample_fails_the_stream(folder: Path) -> None:
    """Only StreamFailed may leave a read; a bad line past the sampled head is a bad file."""
    lines = [json.dumps({"id": n, "updated": n, "note": "x"}) for n in range(300)]
    (folder / "t.jsonl").write_text("\n".join([*lines, '{"id": 300, "updated": ']) + "\n")
    source = reader(folder, "jsonl")
    shape = await source.shape("t")
    with pytest.raises(StreamFailed):
        await read_rows(source, "t", ReadPlan(shape, FrameFormat.ROWS, 1000))


async def test_a_broken_json_line_fails_an_incremental_read(folder: Path) -> None:
    lines = [json.dumps({"id": n, "updated": n, "note": "x"}) for n in range(300)]
    (folder / "t.jsonl").write_text("\n".join([*lines, "not json"]) + "\n")
    source = reader(folder, "jsonl")
    shape = Shape((await source.shape("t")).columns, ("id",))
    with pytest.raises(StreamFailed):
        await read_rows(source, "t", ReadPlan(shape, FrameFormat.ROWS, 1000, "updated"))


async def test_a_csv_field_that_is_not_utf8_fails_the_stream(folder: Path) -> None:
    rows = "".join(f"{n},{n},x\n" for n in range(300)).encode()
    (folder / "t.csv").write_bytes(b"id,updated,note\n" + rows + b"300,300,caf\xe9\n")
    source = reader(folder)
    shape = await source.shape("t")
    with pytest.raises(StreamFailed):
        await read_rows(source, "t", ReadPlan(shape, FrameFormat.ROWS, 1000))


LONG_RECORD = """
import asyncio, sys
sys.path[:0] = {path!r}
import uuid
from pathlib import Path
from tests.integration import test_folder_streams
from tests.integration.test_folder_streams import reader, read_rows
from thedata.application.ports import FrameFormat, ReadPlan
folder = Path(sys.argv[1])
test_folder_streams.ORG = uuid.UUID(folder.parent.name)
source = reader(folder)
shape = asyncio.run(source.shape("t"))
batches = asyncio.run(read_rows(source, "t", ReadPlan(shape, FrameFormat.CSV, 100_000)))
print("read", flush=True)
"""


def test_a_record_longer_than_a_few_kib_across_a_read_chunk_is_read_quickly(
    folder: Path,
) -> None:
    """A 150 KB text value (a JSON document, a note) whose record crosses the reader's 1 MiB
    chunk: cutting records must stay linear, not try the record pattern at every byte."""
    small = b"".join(b"%d,%d,x\n" % (n, n) for n in range(100_000))[:900_000]
    small = small[: small.rfind(b"\n") + 1]  # the long record starts ~150 KB before 1 MiB
    (folder / "t.csv").write_bytes(
        b"id,updated,note\n" + small + b"1,1," + b"y" * 150_000 + b"\n2,2,z\n"
    )
    script = LONG_RECORD.format(path=sys.path)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(folder)],
            capture_output=True,
            timeout=20,
            cwd=Path(__file__).parents[2],
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("reading a 1 MB file with one 150 KB record took more than 20 s")
    assert done.stdout.strip() == b"read", done.stderr.decode()[-2000:]


async def test_a_part_created_while_another_attempt_sweeps_is_not_lost(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pipelines share a table folder. A commit of one sweeps the files no manifest names
    while the other has just created its data file (before it took its flock on it): the file
    must survive, or the other's publish names a file that no longer exists."""
    async with writer(folder).open("p2", "s", "t", KEYED, WriteMode.APPEND, 1):
        pass
    created = StreamFolder.create

    def create_then_sweep(self: StreamFolder, name: str) -> int:
        descriptor = created(self, name)
        if name.endswith(".csv"):  # the other pipeline's publish sweeps right now
            manifest = load(self)
            assert manifest is not None
            parts_module.sweep(self, manifest.files)
        return descriptor

    async with writer(folder).open("p1", "s", "t", KEYED, WriteMode.APPEND, 1) as sink:
        monkeypatch.setattr(StreamFolder, "create", create_then_sweep)
        await sink.write(rows_batch([(1, 1, "a")], Position("1", ("1",))))
        monkeypatch.undo()
    batches = await read_rows(reader(folder), "t", ReadPlan(KEYED, FrameFormat.ROWS, 10))
    assert [row for batch in batches for row in batch] == [(1, 1, "a")]


async def test_a_line_being_appended_to_a_plain_file_is_not_read_half_written(
    folder: Path,
) -> None:
    """An append-only log is written by a buffered writer: at the read's snapshot its last
    line may be half there. Taking it as a whole record delivers a truncated row and moves the
    position past it, so the whole row is never read."""
    log = folder / "log.csv"
    log.write_bytes(b"id,updated,note\n1,1,a\n2,2,hel")  # a writer's buffer flushed mid-line
    source = reader(folder)
    shape = Shape((await source.shape("log")).columns, ("id",))
    plan = ReadPlan(shape, FrameFormat.ROWS, 10, cursor_field="updated")
    seen, end = [], None
    async with source.read("log", plan) as read:
        with log.open("ab") as appending:  # the writer goes on, after the read's snapshot
            appending.write(b"lo\n3,3,c\n")
        async for batch in read:
            seen += [tuple(row) async for row in batch.frames]
            end = batch.end
    again = ReadPlan(shape, FrameFormat.ROWS, 10, cursor_field="updated", after=end)
    seen += [row for batch in await read_rows(source, "log", again) for row in batch]
    assert seen == [(1, 1, "a"), (2, 2, "hello"), (3, 3, "c")]


async def test_an_incremental_read_is_not_bounded_by_the_connector_timeout(folder: Path) -> None:
    """The first pass of an incremental read runs under ``Budget(connector timeout)`` (at most
    5 s): a stream whose first pass takes longer fails with ``Stopped``, not even a
    StreamFailed. Here a 0.2 s timeout stands for a stream a few million rows long."""
    from thedata.adapters.connectors.file.config import FileConfig
    from thedata.adapters.connectors.file.reader import FolderStreamReader

    rows = b"".join(b"%d,%d,x\n" % (n, n) for n in range(300_000))
    (folder / "big.csv").write_bytes(b"id,updated,note\n" + rows)
    source = FolderStreamReader(str(folder.parent), FileConfig("files", "csv"), 0.2)
    shape = Shape((await source.shape("big")).columns, ("id",))
    plan = ReadPlan(shape, FrameFormat.CSV, 100_000, cursor_field="updated")
    try:
        async with source.read("big", plan) as read:
            ends = [batch.end async for batch in read]
    except StreamFailed:
        pytest.fail("a long stream is no failure: the read should go on")
    assert ends[-1] == Position("299999", ("299999",))
