"""One contract for the connectors, against a real PostgreSQL and a real folder."""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest

from tests.conftest import free_port, tcp_endpoint
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.file.config import FileConfig
from thedata.adapters.connectors.file.connector import FileConnector
from thedata.adapters.connectors.file.sampling import Limits
from thedata.adapters.connectors.postgres.errors import UNREACHABLE
from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.application.ports import Connector
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import InvalidInput

ORG = uuid.uuid4()


class ConnectorContract(ABC):
    """What every connector does with a source holding a ``customers`` stream (id, name, score)."""

    expected_types: ClassVar[dict[str, str]]
    expected_primary_key: ClassVar[tuple[str, ...] | None]

    @abstractmethod
    def connector(self) -> Connector:
        """A connector to the seeded source."""

    @abstractmethod
    def broken_connector(self) -> Connector:
        """A connector to a source that is not there."""

    async def test_a_healthy_source_passes_the_check(self) -> None:
        """check() returns without error."""
        await self.connector().check()

    async def test_discovery_lists_the_stream_with_its_fields(self) -> None:
        """The seeded stream comes back with each field's type and its primary key."""
        streams = {s.name: s for s in await self.connector().discover()}
        customers = streams["customers"]
        assert {f.name: f.type for f in customers.fields} == self.expected_types
        assert [f.name for f in customers.fields] == ["id", "name", "score"]
        assert customers.primary_key == self.expected_primary_key

    async def test_a_missing_source_fails_the_check_with_a_message(self) -> None:
        """check() raises ConnectorMisconfigured (retrying will not help), with a message."""
        with pytest.raises(ConnectorMisconfigured) as failed:
            await self.broken_connector().check()
        assert str(failed.value)


@pytest.mark.postgres
class TestPostgresConnector(ConnectorContract):
    """The contract on a real PostgreSQL, reached over TCP."""

    expected_types: ClassVar[dict[str, str]] = {
        "id": "integer",
        "name": "text",
        "score": "numeric",
    }
    expected_primary_key = ("id",)

    @pytest.fixture(autouse=True)
    def _server(
        self, source_database_url: str, postgres_server_url: str, tmp_path: Path
    ) -> Iterator[None]:
        with psycopg.connect(source_database_url, autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE customers (id integer PRIMARY KEY, name text, score numeric)"
            )
            connection.execute("CREATE TABLE notes (body text)")
        # the test server plays the control database's; the source lives on another server
        self.factory = DefaultConnectorFactory(
            tmp_path, NetworkPolicy(allow_private=True), 2, control_database=postgres_server_url
        )
        with tcp_endpoint(source_database_url) as (host, port, database, user):
            self.config = {"host": host, "port": port, "database": database, "user": user}
            yield

    def _connector(self, **changes: object) -> Connector:
        validated = self.factory.validate(ORG, DataSourceKind.POSTGRES, self.config | changes)
        return self.factory.connector(ORG, DataSourceKind.POSTGRES, validated.config, {})

    def connector(self) -> Connector:
        return self._connector()

    def broken_connector(self) -> Connector:
        return self._connector(database="no_such_database")

    async def test_a_table_without_a_primary_key_has_none(self) -> None:
        """Discovery says so rather than guessing a key."""
        streams = {s.name: s for s in await self.connector().discover()}
        assert streams["notes"].primary_key is None

    async def test_a_closed_port_fails_at_once(self) -> None:
        """Nothing listening: unreachable (503-worthy) within the time limit, in our words."""
        started = time.monotonic()
        with pytest.raises(ConnectorFailed) as failed:
            await self._connector(port=free_port()).check()
        assert str(failed.value) == UNREACHABLE
        assert time.monotonic() - started < 5

    async def test_the_network_policy_applies_at_connect_time(self, tmp_path: Path) -> None:
        """With private networks blocked, a source on loopback is refused before connecting."""
        factory = DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=False), 2, None)
        validated = factory.validate(ORG, DataSourceKind.POSTGRES, self.config)
        with pytest.raises(ConnectorMisconfigured, match="not reachable from this server"):
            await factory.connector(ORG, DataSourceKind.POSTGRES, validated.config, {}).check()


class TestCsvFolderConnector(ConnectorContract):
    """The contract on a real folder of CSV files."""

    expected_types: ClassVar[dict[str, str]] = {
        "id": "integer",
        "name": "string",
        "score": "number",
    }
    expected_primary_key = None

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.data_root = tmp_path / "data"
        self.root = self.data_root / str(ORG)  # the organization's own folder
        (self.root / "crm").mkdir(parents=True)
        (self.root / "crm" / "customers.csv").write_text("id,name,score\n1,Ada,9.5\n2,Bob,7\n")
        (self.root / "crm" / "ignored.jsonl").write_text('{"a": 1}\n')
        self.factory = DefaultConnectorFactory(self.data_root, NetworkPolicy(), 2, None)

    def _connector(self, path: str, file_format: str = "csv") -> Connector:
        config = {"path": path, "format": file_format}
        validated = self.factory.validate(ORG, DataSourceKind.FILE, config)
        return self.factory.connector(ORG, DataSourceKind.FILE, validated.config, {})

    def connector(self) -> Connector:
        return self._connector("crm")

    def broken_connector(self) -> Connector:
        return self._connector("not-there")

    async def test_only_files_of_the_format_are_streams(self) -> None:
        """A .jsonl file is not a stream of a csv data source."""
        assert [s.name for s in await self.connector().discover()] == ["customers"]

    async def test_json_lines_fields_and_types_come_from_the_records(self) -> None:
        """Keys in first-seen order; a field whose type varies is a string."""
        folder = self.root / "events"
        folder.mkdir()
        lines = [{"id": 1, "ok": True, "v": 1}, {"id": 2, "ok": False, "v": "x", "extra": None}]
        (folder / "log.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
        (stream,) = await self._connector("events", "jsonl").discover()
        assert {f.name: f.type for f in stream.fields} == {
            "id": "integer",
            "ok": "boolean",
            "v": "string",
            "extra": "null",
        }

    @pytest.mark.parametrize("path", ["../outside", "crm/../../x", "/etc", "/"])
    async def test_paths_outside_the_data_root_are_invalid(self, path: str) -> None:
        """'..' anywhere, and absolute paths, are invalid input on /config/path."""
        with pytest.raises(InvalidInput) as raised:
            self.factory.validate(ORG, DataSourceKind.FILE, {"path": path, "format": "csv"})
        assert raised.value.errors[0].field == "/config/path"

    async def test_absolute_paths_are_refused_even_inside_the_folder(self) -> None:
        """Paths are relative to the organization's folder; '.' is that folder itself."""
        with pytest.raises(InvalidInput, match="invalid"):
            self.factory.validate(
                ORG, DataSourceKind.FILE, {"path": str(self.root / "crm"), "format": "csv"}
            )
        (self.root / "top.csv").write_text("a\n1\n")
        assert [s.name for s in await self._connector(".").discover()] == ["top"]

    async def test_a_folder_too_big_to_discover_still_checks_fine(self) -> None:
        """Discovery looks at 10,000 entries at most; the check (what a run's probe calls)
        only opens the folder: a run reads its streams by name and never lists it."""
        crowded = self.root / "crowded"
        crowded.mkdir()
        for n in range(5):
            (crowded / f"t{n}.csv").write_text("a\n1\n")
        connector = FileConnector(
            str(self.root), FileConfig("crowded", "csv"), 2, Limits(entries=3)
        )
        await connector.check()
        with pytest.raises(ConnectorMisconfigured, match="more than 3 entries"):
            await connector.discover()

    async def test_a_symlink_leading_out_is_refused_then_and_later(self, tmp_path: Path) -> None:
        """Refused when configured; and one swapped in after configuring fails the check."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (self.root / "escape").symlink_to(outside)
        with pytest.raises(InvalidInput):
            self.factory.validate(ORG, DataSourceKind.FILE, {"path": "escape", "format": "csv"})
        (self.root / "later").mkdir()
        connector = self._connector("later")
        (self.root / "later").rmdir()
        (self.root / "later").symlink_to(outside)
        with pytest.raises(ConnectorMisconfigured, match="leads outside"):
            await connector.check()
