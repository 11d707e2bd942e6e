"""A folder destination whose disk fills up mid-stream: the stream fails retryably in the
engine's own words, the published table stays at its last committed batch (never a torn
file in the manifest), and once there is room again the next attempt ends equal to the
source. The disk is "filled" by the file system call failing with ENOSPC."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_folder_streams import (
    ORG,
    folder_factory,
    folder_reader_for,
    folder_writer_for,
    manifest,
)
from thedata.adapters.connectors.file.storage import write_all
from thedata.adapters.memory.streams import (
    InMemoryDatabase,
    InMemoryStreamReader,
    InMemoryStreamWriter,
    InMemoryTable,
)
from thedata.application.move_stream import move_stream
from thedata.application.ports import Column, Shape, StreamFailed
from thedata.domain.pipelines import Stream, StreamMode

SHAPE = Shape((Column("id", "bigint", False), Column("body", "text")), ("id",))
ROWS = [(n, "x" * 200) for n in range(1, 2001)]
BATCH_ROWS = 250
STREAM = Stream("items", "items", StreamMode.INCREMENTAL, "id", ("id",))


async def move(factory: Any, file_format: str, epoch: int) -> int:
    source = InMemoryDatabase({"items": InMemoryTable(SHAPE, list(ROWS))})
    outcome = await move_stream(
        InMemoryStreamReader(source),
        folder_writer_for(factory, file_format),
        pipeline="p",
        stream=STREAM,
        epoch=epoch,
        batch_rows=BATCH_ROWS,
    )
    return outcome.rows


async def published_ids(factory: Any, file_format: str) -> list[int]:
    """The ids the folder publishes, read back through the folder reader."""
    copy = InMemoryDatabase()
    await move_stream(
        folder_reader_for(factory, file_format),
        InMemoryStreamWriter(copy),
        pipeline="check",
        stream=Stream("items", "items", StreamMode.FULL_REFRESH),
        epoch=1,
        batch_rows=10_000,
    )
    return sorted(int(row[0]) for row in copy.tables["items"].rows)


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
async def test_a_full_disk_mid_stream_fails_retryably_and_keeps_the_committed_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    factory = folder_factory(tmp_path)
    room = {"bytes": 200 * 1024}  # about four batches of data files

    def filling(descriptor: int, data: Any) -> None:
        room["bytes"] -= len(data)
        if room["bytes"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        write_all(descriptor, data)

    # the data files fill the disk; the manifest, written after them, is never reached
    monkeypatch.setattr("thedata.adapters.connectors.file.parts.write_all", filling)
    with pytest.raises(StreamFailed, match="out of disk space") as failed:
        await move(factory, file_format, epoch=1)
    assert failed.value.retryable

    folder = tmp_path / str(ORG) / "out"
    published = manifest(folder, "items")
    assert published is not None, "no batch fitted: the test's room is too small"
    ids = await published_ids(factory, file_format)
    assert 0 < len(ids) < len(ROWS)
    assert len(ids) % BATCH_ROWS == 0  # whole batches, none torn
    assert ids == list(range(1, len(ids) + 1))  # the first ones, in cursor order

    monkeypatch.undo()  # room again
    await move(factory, file_format, epoch=2)
    assert await published_ids(factory, file_format) == [row[0] for row in ROWS]
    # what the failed attempt left is swept: only the lock and what the manifest names
    named = set(manifest(folder, "items")["files"]) | {"manifest.json", ".lock"}  # type: ignore[index]
    assert {p.name for p in (folder / "items").iterdir()} == named
