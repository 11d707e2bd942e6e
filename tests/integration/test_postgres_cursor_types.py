"""Cursors of every spelling-sensitive type: a stored position is cast back exactly."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import tcp_endpoint
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import move_stream
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

pytestmark = pytest.mark.postgres
ORG = uuid.UUID(int=1)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("char(4)", ["a001", "a002", "a003"]),
        ("bit(4)", ["0001", "0010", "0011"]),
        ("varchar(4)", ["a001", "a002", "a003"]),
        ("numeric(6,2)", ["1.10", "1.20", "1.30"]),
    ],
)
async def test_an_append_of_a_typed_cursor_takes_each_row_once_over_reruns(
    tmp_path: Path,
    postgres_server_url: str,
    source_database_url: str,
    column: str,
    values: list[str],
) -> None:
    """Three runs of a three-row source append three rows, whatever the cursor's type modifier
    (a cast to ``character`` would cut ``'a003'`` to ``'a'`` and re-read everything)."""
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE ev (code {column} NOT NULL, note text)")
        for value in values:
            connection.execute("INSERT INTO ev VALUES (%s, 'x')", (value,))
    factory = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 5, control_database=postgres_server_url
    )
    stream = Stream("ev", "ev_log", StreamMode.INCREMENTAL, "code")
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        config = {"host": host, "port": port, "database": database, "user": user}
        for epoch in (1, 2, 3):
            await move_stream(
                factory.reader(ORG, DataSourceKind.POSTGRES, config, {}),
                factory.writer(ORG, DataSourceKind.POSTGRES, config, {}),
                pipeline="p",
                stream=stream,
                epoch=epoch,
                batch_rows=2,
            )
    with psycopg.connect(source_database_url) as connection:
        assert connection.execute("SELECT count(*) FROM ev_log").fetchone() == (3,)
