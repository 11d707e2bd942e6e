"""Workers killed for real (SIGKILL) mid-stream with a folder at one end: the next attempt
finishes with no row lost and none duplicated.

PostgreSQL → folder: the kill lands while a data file is written, between the
file and the manifest that publishes it, or in an upsert's merge; the folder
read back by PostgreSQL must equal the source. Folder → PostgreSQL: the
source is a folder the engine published; the destination must equal it.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from tests.conftest import tcp_endpoint
from tests.contract.test_folder_streams import load_table
from tests.engine_worker import ORG
from tests.integration.test_engine_kill import databases, rows, run_and_kill
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import move_stream
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["databases"]  # the fixture, shared with the PostgreSQL-only kill test

TABLES = {"events": "events_log", "orders": "orders_copy", "refresh": "orders_refreshed"}
ORDER = {"events": "seq, body", "orders": "id", "refresh": "id"}


def postgres(url: str, stack: ExitStack) -> dict[str, Any]:
    host, port, database, user = stack.enter_context(tcp_endpoint(url))
    return {"host": host, "port": port, "database": database, "user": user}


def sorted_source(url: str, stream: str) -> list[tuple[Any, ...]]:
    source = "events" if stream == "events" else "orders"
    return rows(url, f"SELECT * FROM {source} ORDER BY {ORDER[stream]}")  # noqa: S608 - ours


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
@pytest.mark.parametrize("stream", ["events", "orders", "refresh"])
def test_killed_writers_of_a_folder_lose_and_duplicate_nothing(
    databases: tuple[str, str], tmp_path: Path, stream: str, file_format: str
) -> None:
    source_url, _ = databases
    folder = tmp_path / str(ORG) / "lake"
    folder.mkdir(parents=True)
    with ExitStack() as stack:
        settings = {
            "source": postgres(source_url, stack),
            "destination": {"path": "lake", "format": file_format},
            "destination_kind": "file",
            "data_root": str(tmp_path),
            "stream": stream,
            "batch_rows": 400,
        }
        for epoch, kill_after in enumerate((1, 3, 5), start=1):
            run_and_kill(settings | {"epoch": epoch}, kill_after)
        assert run_and_kill(settings | {"epoch": 4}, None) == "done"
    written = asyncio.run(load_table(source_url, folder, TABLES[stream]))
    assert sorted(written) == sorted(sorted_source(source_url, stream))
    # what the killed attempts left was swept: only the published files remain
    published = json.loads((folder / TABLES[stream] / "manifest.json").read_text())["files"]
    names = {path.name for path in (folder / TABLES[stream]).iterdir()}
    assert names == {*published, "manifest.json", ".lock"}


async def _publish(source_url: str, data_root: Path, file_format: str) -> None:
    """The source tables as streams of a folder, as the engine publishes them."""
    factory = DefaultConnectorFactory(
        data_root, NetworkPolicy(allow_private=True), 60, control_database=None
    )
    with tcp_endpoint(source_url) as (host, port, database, user):
        config = {"host": host, "port": port, "database": database, "user": user}
        reader = factory.reader(ORG, DataSourceKind.POSTGRES, config, {})
        folder = {"path": "lake", "format": file_format}
        writer = factory.writer(ORG, DataSourceKind.FILE, folder, {})
        for name in ("events", "orders"):
            stream = Stream(name, name, StreamMode.FULL_REFRESH)
            await move_stream(
                reader, writer, pipeline="seed", stream=stream, epoch=1, batch_rows=10**6
            )


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
@pytest.mark.parametrize("stream", ["events", "orders", "refresh"])
def test_killed_readers_of_a_folder_lose_and_duplicate_nothing(
    databases: tuple[str, str], tmp_path: Path, stream: str, file_format: str
) -> None:
    source_url, destination_url = databases
    (tmp_path / str(ORG) / "lake").mkdir(parents=True)
    asyncio.run(_publish(source_url, tmp_path, file_format))
    with ExitStack() as stack:
        settings = {
            "source": {"path": "lake", "format": file_format},
            "source_kind": "file",
            "destination": postgres(destination_url, stack),
            "data_root": str(tmp_path),
            "stream": stream,
            "batch_rows": 400,
        }
        for epoch, kill_after in enumerate((1, 3, 5), start=1):
            run_and_kill(settings | {"epoch": epoch}, kill_after)
        assert run_and_kill(settings | {"epoch": 4}, None) == "done"
    copied = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
        sql.Identifier(TABLES[stream]), sql.SQL(ORDER[stream])
    )
    assert rows(destination_url, copied) == sorted_source(source_url, stream)
