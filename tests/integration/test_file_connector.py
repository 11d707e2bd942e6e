"""The file connector: each organization in its own folder, every open checked, work bounded."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from thedata.adapters.connectors import (
    DefaultConnectorFactory,
    FileConnector,
    Limits,
    NetworkPolicy,
)
from thedata.adapters.connectors.file import FileConfig, sampling
from thedata.adapters.connectors.work import Budget, run_bounded
from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.application.ports import Connector
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import InvalidInput

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
MiB = 1024 * 1024


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / str(ALICE) / "crm").mkdir(parents=True)
    (root / str(ALICE) / "crm" / "customers.csv").write_text("id,name\n1,Ada\n")
    (root / str(BOB)).mkdir(parents=True)
    return root


@pytest.fixture
def factory(data_root: Path) -> DefaultConnectorFactory:
    return DefaultConnectorFactory(data_root, NetworkPolicy(), 5, None)


def connector(
    factory: DefaultConnectorFactory, org: uuid.UUID, path: str, file_format: str = "csv"
) -> Connector:
    config = {"path": path, "format": file_format}
    validated = factory.validate(org, DataSourceKind.FILE, config)
    return factory.connector(org, DataSourceKind.FILE, validated.config, {})


async def test_an_organization_reads_only_its_own_folder(factory: DefaultConnectorFactory) -> None:
    """Bob's 'crm' is his own (and missing); Alice's folder is out of his reach by any path."""
    assert [s.name for s in await connector(factory, ALICE, "crm").discover()] == ["customers"]
    with pytest.raises(ConnectorMisconfigured, match="no folder 'crm'") as missing:
        await connector(factory, BOB, "crm").check()
    assert missing.value.errors[0].field == "/config/path"
    assert await connector(factory, BOB, ".").discover() == []
    for path in (f"../{ALICE}/crm", "..", f"/{ALICE}/crm"):
        with pytest.raises(InvalidInput):
            factory.validate(BOB, DataSourceKind.FILE, {"path": path, "format": "csv"})


@pytest.mark.parametrize("target", ["/etc/passwd", "../../{alice}/crm/customers.csv"])
async def test_a_file_symlink_leading_out_is_refused(
    factory: DefaultConnectorFactory, data_root: Path, target: str
) -> None:
    """passwd.csv -> /etc/passwd, or into another organization's folder: refused, not read."""
    folder = data_root / str(BOB) / "in"
    folder.mkdir()
    (folder / "passwd.csv").symlink_to(target.format(alice=ALICE))
    with pytest.raises(ConnectorMisconfigured, match=r"'passwd\.csv' leads outside"):
        await connector(factory, BOB, "in").discover()


async def test_a_symlink_inside_the_folder_is_followed(
    factory: DefaultConnectorFactory, data_root: Path
) -> None:
    """Links that stay inside the organization's folder are fine: the real path decides."""
    mine = data_root / str(ALICE)
    (mine / "current").symlink_to(mine / "crm")
    (mine / "crm" / "alias.csv").symlink_to(mine / "crm" / "customers.csv")
    streams = await connector(factory, ALICE, "current").discover()
    assert sorted(s.name for s in streams) == ["alias", "customers"]


async def test_a_symlink_swapped_in_just_before_the_open_cannot_escape(
    factory: DefaultConnectorFactory, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is made on the opened descriptor, so winning a race against it is impossible."""
    mine = data_root / str(ALICE) / "crm"
    (mine / "data.csv").symlink_to(mine / "customers.csv")
    source = connector(factory, ALICE, "crm")
    real_open = os.open

    def swapping_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == "data.csv":  # the attacker wins the race: the link now leads out
            (mine / "data.csv").unlink()
            (mine / "data.csv").symlink_to("/etc/passwd")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapping_open)
    with pytest.raises(ConnectorMisconfigured, match=r"'data\.csv' leads outside"):
        await source.discover()


async def test_a_60_mb_one_line_csv_is_refused_quickly_and_cheaply(
    factory: DefaultConnectorFactory, data_root: Path
) -> None:
    """Only the first MiB is read: the answer comes at once and memory stays flat."""
    folder = data_root / str(ALICE) / "big"
    folder.mkdir()
    with (folder / "huge.csv").open("wb") as file:
        for _ in range(60):
            file.write(b"a," * (MiB // 2))
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    with pytest.raises(ConnectorMisconfigured, match=r"first line of 'huge\.csv' is longer"):
        await connector(factory, ALICE, "big").discover()
    assert time.monotonic() - started < 1
    assert process.memory_info().rss - before < 32 * MiB


async def test_a_large_file_is_sampled_from_its_head(
    factory: DefaultConnectorFactory, data_root: Path
) -> None:
    """A long file of short lines: the header and the sampled rows, not the whole file."""
    folder = data_root / str(ALICE) / "long"
    folder.mkdir()
    with (folder / "events.csv").open("w") as file:
        file.write("id,label\n")
        file.writelines(f"{i},x{i}\n" for i in range(2_000_000))
    started = time.monotonic()
    (stream,) = await connector(factory, ALICE, "long").discover()
    assert {f.name: f.type for f in stream.fields} == {"id": "integer", "label": "string"}
    assert time.monotonic() - started < 1


async def test_a_cancelled_call_stops_its_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's time limit cancels the task; the reading thread sees it and stops."""
    reads = 0
    real_read = os.read

    def counting_read(descriptor: int, size: int) -> bytes:
        nonlocal reads
        reads += 1
        return real_read(descriptor, size)

    monkeypatch.setattr(os, "read", counting_read)
    read_end, write_end = os.pipe()  # an endless source: a writer that never stops
    stop_writing = threading.Event()

    def write() -> None:
        while not stop_writing.is_set():
            try:
                os.write(write_end, b"a" * 4096)
            except BlockingIOError:
                time.sleep(0.001)

    os.set_blocking(write_end, False)
    writer = threading.Thread(target=write)
    writer.start()
    limits = Limits(sample_bytes=1 << 40, total_bytes=1 << 40, chunk_bytes=4096)
    try:
        reading = sampling.Reading(limits, Budget(60))

        def work(budget: Budget) -> list[bytes]:
            reading.budget = budget
            return reading.head(read_end, "endless.csv")

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await run_bounded(work, 60)
        await asyncio.sleep(0.1)
        stopped_at = reads
        await asyncio.sleep(0.3)
        assert reads == stopped_at  # no read since: the thread has stopped
        assert stopped_at > 0
    finally:
        stop_writing.set()
        writer.join()
        os.close(read_end)
        os.close(write_end)


async def test_past_its_own_deadline_the_work_stops_by_itself() -> None:
    """Even if nobody cancels, the thread stops at the deadline and the call fails (503)."""
    finished = threading.Event()

    def forever(budget: Budget) -> None:
        try:
            while True:
                budget.spend()
                time.sleep(0.01)
        finally:
            finished.set()

    with pytest.raises(ConnectorFailed, match="no answer within"):
        await run_bounded(forever, 0.1)
    assert finished.wait(1)


async def test_deeply_nested_json_lines_do_not_break_discovery(
    factory: DefaultConnectorFactory, data_root: Path
) -> None:
    """A line nested 100,000 deep is skipped like a bad line; the others still count."""
    folder = data_root / str(ALICE) / "events"
    folder.mkdir()
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (folder / "log.jsonl").write_text(
        "\n".join([deep, json.dumps({"id": 1, "tags": [1], "at": 1.5, "x": None})]) + "\n"
    )
    (stream,) = await connector(factory, ALICE, "events", "jsonl").discover()
    assert {f.name: f.type for f in stream.fields} == {
        "id": "integer",
        "tags": "array",
        "at": "number",
        "x": "null",
    }


@pytest.mark.parametrize(
    "path",
    ["x" * 1024, "a/" + "b" * 300, "\x00x", "x\udc80"],
    ids=["1024", "300", "nul", "surrogate"],
)
async def test_paths_the_file_system_would_refuse_are_invalid_input(
    factory: DefaultConnectorFactory, path: str
) -> None:
    """ENAMETOOLONG and friends are 400s on /config/path, at validation and for stored configs."""
    with pytest.raises(InvalidInput) as raised:
        factory.validate(ALICE, DataSourceKind.FILE, {"path": path, "format": "csv"})
    assert [e.field for e in raised.value.errors] == ["/config/path"]
    stored = factory.connector(ALICE, DataSourceKind.FILE, {"path": path, "format": "csv"}, {})
    with pytest.raises(ConnectorMisconfigured):
        await stored.check()


async def test_open_errors_are_classified(data_root: Path) -> None:
    """Name too long, not a folder: misconfigured, never a 500 (the connector checks no syntax)."""
    root = str(data_root / str(ALICE))
    for path in ("y" * 1024, "crm/customers.csv"):
        with pytest.raises(ConnectorMisconfigured):
            await FileConnector(root, FileConfig(path=path, format="csv"), 5).check()


async def test_a_fifo_named_like_a_data_file_is_skipped(
    factory: DefaultConnectorFactory, data_root: Path
) -> None:
    """Only regular files are streams: opening a FIFO must not hang the discovery."""
    os.mkfifo(data_root / str(ALICE) / "crm" / "pipe.csv")
    assert [s.name for s in await connector(factory, ALICE, "crm").discover()] == ["customers"]


def test_the_data_root_layout_from_before_is_reported(data_root: Path) -> None:
    """Folders directly in the data root (the old shared layout) are listed for the operator."""
    from thedata.adapters.connectors.file import shared_layout_entries

    (data_root / "crm").mkdir()
    assert shared_layout_entries(data_root) == ["crm"]


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
async def test_a_file_with_more_columns_than_postgresql_holds_is_refused(
    factory: DefaultConnectorFactory, data_root: Path, file_format: str
) -> None:
    """2,000 columns: refused by name (no table could take them), not a huge answer."""
    folder = data_root / str(ALICE) / "wide"
    folder.mkdir()
    names = [f"c{i}" for i in range(2_000)]
    if file_format == "csv":
        (folder / "wide.csv").write_text(",".join(names) + "\n" + ",".join("1" * 2_000) + "\n")
    else:
        (folder / "wide.jsonl").write_text(json.dumps(dict.fromkeys(names, 1)) + "\n")
    with pytest.raises(ConnectorMisconfigured, match="more than 1600 columns"):
        await connector(factory, ALICE, "wide", file_format).discover()


async def test_the_move_of_a_shared_folder_in_docs_connectors_makes_it_the_organizations(
    data_root: Path,
) -> None:
    """docs/connectors.md's block for a folder made before per-organization folders, run as
    written: the organization's data source with the same path reads it afterwards, and
    only that organization's."""
    page = (Path(__file__).parents[2] / "docs" / "connectors.md").read_text()
    section = page.split("## File data sources made before per-organization folders", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    (data_root / "legacy").mkdir()
    (data_root / "legacy" / "orders.csv").write_text("id,total\n1,9.50\n")
    factory = DefaultConnectorFactory(data_root, NetworkPolicy(), 5, None)
    with pytest.raises(ConnectorMisconfigured, match="no folder 'legacy'"):
        await connector(factory, BOB, "legacy").check()
    moved = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        block.replace("crm", "legacy"),  # the page's example folder, named as this test's
        env={"PATH": "/usr/bin:/bin", "THEDATA_DATA_ROOT": str(data_root), "ORG_ID": str(BOB)},
    )
    assert await moved.wait() == 0
    assert [s.name for s in await connector(factory, BOB, "legacy").discover()] == ["orders"]
    with pytest.raises(ConnectorMisconfigured, match="no folder 'legacy'"):
        await connector(factory, ALICE, "legacy").check()
