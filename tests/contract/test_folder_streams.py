"""The stream contracts on folders of CSV and JSON Lines files (the ``file`` kind).

The writer's tables are read back by PostgreSQL itself: each data file the
manifest names is loaded with ``COPY ... (FORMAT csv, HEADER)`` or, for JSON
Lines, ``json_populate_record`` into a table of the manifest's column types,
so what the files hold is judged by the server the round trip ends in, not by
the code that wrote them. The reader's streams are streams a folder writer
published (so their shape keeps its key and types).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.contract.test_stream_readers import Row, StreamReaderContract
from tests.contract.test_stream_writers import StreamWriterContract
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.ports import (
    Batch,
    Column,
    FrameFormat,
    Shape,
    StreamReader,
    StreamWriter,
    WriteMode,
)
from thedata.domain.data_sources import DataSourceKind

ORG = uuid.uuid4()
FORMATS = ["csv", "jsonl"]


def folder_factory(tmp_path: Path) -> DefaultConnectorFactory:
    """A factory whose data root is ``tmp_path``, with the organization's ``out`` folder."""
    (tmp_path / str(ORG) / "out").mkdir(parents=True)
    return DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=True), 5, None)


def folder_writer_for(factory: DefaultConnectorFactory, file_format: str) -> StreamWriter:
    """The file kind's writer, validated as the service does."""
    validated = factory.validate(ORG, DataSourceKind.FILE, {"path": "out", "format": file_format})
    return factory.writer(ORG, DataSourceKind.FILE, validated.config, {})


def folder_reader_for(factory: DefaultConnectorFactory, file_format: str) -> StreamReader:
    """The file kind's reader, validated as the service does."""
    validated = factory.validate(ORG, DataSourceKind.FILE, {"path": "out", "format": file_format})
    return factory.reader(ORG, DataSourceKind.FILE, validated.config, {})


def manifest(folder: Path, table: str) -> dict[str, Any] | None:
    """The published manifest of ``table`` (read as plain JSON), if any."""
    path = folder / table / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


async def load_table(url: str, folder: Path, table: str) -> list[tuple[Any, ...]]:
    """The published rows of ``table``, parsed by PostgreSQL, sorted; ``[]`` if none."""
    published = manifest(folder, table)
    if published is None:
        return []
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c["name"]), sql.SQL(c["type"]))
        for c in published["columns"]
    )
    names = sql.SQL(", ").join(sql.Identifier(c["name"]) for c in published["columns"])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as c:
        await c.execute(sql.SQL("CREATE TEMP TABLE _loaded ({})").format(columns))
        await c.execute("CREATE TEMP TABLE _lines (line jsonb)")
        for name in published["files"]:
            data = (folder / table / name).read_bytes()
            if published["format"] == "csv":
                statement = sql.SQL("COPY _loaded ({}) FROM STDIN (FORMAT csv, HEADER)")
                async with c.cursor().copy(statement.format(names)) as copy:
                    await copy.write(data)
            else:
                async with c.cursor().copy("COPY _lines FROM STDIN") as copy:
                    for line in data.splitlines():
                        await copy.write_row((line.decode(),))
        await c.execute(
            sql.SQL(
                "INSERT INTO _loaded SELECT r.* FROM _lines, "
                "jsonb_populate_record(NULL::_loaded, line) r"
            )
        )
        cursor = await c.execute("SELECT * FROM _loaded ORDER BY 1, 2")
        return await cursor.fetchall()


@pytest.mark.parametrize("file_format", FORMATS, indirect=False)
class TestFolderStreamWriter(StreamWriterContract):
    """The writer contract on folders, each format."""

    @pytest.fixture(autouse=True)
    def _destination(self, file_format: str, postgres_server_url: str, tmp_path: Path) -> None:
        self.url, self.format = postgres_server_url, file_format
        self.factory = folder_factory(tmp_path)
        self.folder = tmp_path / str(ORG) / "out"

    def writer(self) -> StreamWriter:
        return folder_writer_for(self.factory, self.format)

    async def rows(self, table: str) -> list[tuple[Any, ...]]:
        return await load_table(self.url, self.folder, table)

    async def columns(self, table: str) -> list[tuple[str, str]]:
        published = manifest(self.folder, table)
        return [] if published is None else [(c["name"], c["type"]) for c in published["columns"]]


async def _rows(rows: Sequence[Row]) -> AsyncIterator[tuple[object, ...]]:
    for row in rows:
        yield row


@pytest.mark.parametrize("file_format", FORMATS)
class TestFolderStreamReader(StreamReaderContract):
    """The reader contract on streams a folder writer published, each format."""

    shape = Shape(
        (Column("id", "bigint", False), Column("updated", "bigint"), Column("note", "text")),
        ("id",),
    )

    @pytest.fixture(autouse=True)
    def _source(self, file_format: str, postgres_server_url: str, tmp_path: Path) -> None:
        self.url, self.format = postgres_server_url, file_format
        self.factory = folder_factory(tmp_path)
        self.epoch = 0
        self.written: dict[str, list[Row]] = {}

    def reader(self) -> StreamReader:
        return folder_reader_for(self.factory, self.format)

    async def create(self, stream: str, rows: Sequence[Row]) -> None:
        self.written[stream] = []
        await self.add(stream, rows)

    async def add(self, stream: str, rows: Sequence[Row]) -> None:
        # the table is published again with the new rows after the old ones, in that order
        self.written[stream] = [*self.written[stream], *rows]
        self.epoch += 1
        writer = folder_writer_for(self.factory, self.format)
        async with writer.open(
            "fixture", stream, stream, self.shape, WriteMode.REPLACE, self.epoch
        ) as sink:
            await sink.write(Batch(FrameFormat.ROWS, _rows(self.written[stream])))
            await sink.finish()

    async def decode_csv(self, payload: bytes, shape: Shape) -> list[Row]:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in shape.columns
        )
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c:
            await c.execute(sql.SQL("CREATE TEMP TABLE _decoded (_n serial, {})").format(columns))
            names = sql.SQL(", ").join(map(sql.Identifier, shape.names))
            statement = sql.SQL("COPY _decoded ({}) FROM STDIN (FORMAT csv)").format(names)
            async with c.cursor().copy(statement) as copy:
                await copy.write(payload)
            query = sql.SQL("SELECT {} FROM _decoded ORDER BY _n").format(names)
            return list(await (await c.execute(query)).fetchall())
