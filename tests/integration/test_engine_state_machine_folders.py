"""The engine's state machine with a folder as the destination (CSV and JSON Lines).

The same random source changes, late commits, interruptions and takeovers as
``test_engine_state_machine`` (whose machine this one reuses), with the
streams written into a folder: a publish dies after its data file is durable
but before the new manifest is written, or after it is written beside the old
one but before the rename that commits it. The folder is read back with Python's own ``csv`` and
``json`` modules, not the engine's, following the manifest as any reader would.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import tcp_endpoint
from tests.contract.test_stream_readers import postgres_reader_for
from tests.integration.test_engine_state_machine import Crash, EngineMachine, Row
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.file.storage import StreamFolder
from thedata.adapters.connectors.file.writer import FolderStream
from thedata.domain.data_sources import DataSourceKind

pytestmark = pytest.mark.postgres


@contextlib.contextmanager
def manifest_store_dies(saves_before: int, *, after_the_update: bool) -> Iterator[None]:
    """The publish after ``saves_before`` successful ones dies once its data file is durable:
    before the new manifest is written, or once it is written and fsynced beside the old one
    but not yet renamed over it (the commit point)."""
    real_commit = FolderStream._commit
    saves = itertools.count()

    def rename_dies(*_: Any) -> None:
        raise Crash

    def commit(stream: FolderStream, *args: Any, **kwargs: Any) -> None:
        if next(saves) < saves_before:
            real_commit(stream, *args, **kwargs)
        elif not after_the_update:
            raise Crash
        else:
            with patch.object(StreamFolder, "replace", rename_dies):
                real_commit(stream, *args, **kwargs)

    with patch.object(FolderStream, "_commit", commit):
        yield


class FolderEngineMachine(EngineMachine):
    """``EngineMachine`` writing into a folder."""

    folder: Path
    file_format: str

    def publish_dies(
        self, saves_before: int, *, after_the_update: bool
    ) -> contextlib.AbstractContextManager[None]:
        return manifest_store_dies(saves_before, after_the_update=after_the_update)

    def teardown(self) -> None:
        for late in self.open:
            late.connection.close()
        self.source.execute(f'DROP TABLE "{self.table}"')
        for stream in self.streams.values():
            shutil.rmtree(self.folder / stream.destination, ignore_errors=True)
        self.source.close()
        self.destination.close()

    def manifest(self, kind: str) -> dict[str, Any] | None:
        path = self.folder / self.streams[kind].destination / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else None

    def rows_of(self, kind: str) -> list[Row]:
        published = self.manifest(kind)
        if published is None:
            return []
        rows: list[Row] = []
        for name in published["files"]:
            data = (self.folder / self.streams[kind].destination / name).read_text()
            if published["format"] == "csv":
                records = list(csv.reader(io.StringIO(data, newline="")))
                assert records[0] == ["id", "updated", "value"]
                rows.extend((int(i), int(u), v) for i, u, v in records[1:])
            else:
                for line in data.splitlines():
                    record = json.loads(line)
                    rows.append((record["id"], record["updated"], record["value"]))
        return sorted(rows)

    def state(self, kind: str) -> Row | None:
        published = self.manifest(kind)
        if published is None:
            return None
        for state in published["streams"]:
            if (state["pipeline"], state["stream"]) == (self.pipelines[kind], self.table):
                return (state["epoch"], state["position"])
        return None


SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_the_engine_moves_every_mode_into_a_folder_exactly_once(
    source_database_url: str,
    postgres_server_url: str,
    tmp_path: Path,
    file_format: str,
) -> None:
    """Random changes, late commits, runs killed or superseded anywhere (in a folder: between
    the data file and the manifest): never a row twice or one the source never had, and equal
    to the source after a run."""
    org = uuid.UUID(int=7)
    folder = tmp_path / str(org) / "lake"
    folder.mkdir(parents=True)
    factory = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 5, control_database=postgres_server_url
    )
    loop = asyncio.new_event_loop()
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        FolderEngineMachine.reader = postgres_reader_for(
            factory, {"host": host, "port": port, "database": database, "user": user}
        )
        config = factory.validate(org, DataSourceKind.FILE, {"path": "lake", "format": file_format})
        FolderEngineMachine.writer = factory.writer(org, DataSourceKind.FILE, config.config, {})
        FolderEngineMachine.folder = folder
        FolderEngineMachine.loop = loop
        FolderEngineMachine.source_url = source_database_url
        FolderEngineMachine.destination_url = source_database_url  # unused: no tables there
        try:
            run_state_machine_as_test(FolderEngineMachine, settings=SETTINGS)
        finally:
            loop.close()
