"""A PostgreSQL source that fails mid-COPY: it stalls (the connection alive, the bytes held),
resets the connection, or sends garbage. Each ends the stream in bounded time with a
retryable failure; the destination holds exactly the batches it committed (an incremental
stream) or its old table (a full refresh); once the source behaves, the next attempt
finishes with the destination equal to the source. The oracle is the source table, read
with plain SQL; the source sits behind a proxy the test controls.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import proxied_endpoint, tcp_endpoint
from tests.faults import PartitionableProxy
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import move_stream
from thedata.application.ports import StreamFailed
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROWS = 60_000
BATCH_ROWS = 5_000
CHOKED_AFTER = 1024 * 1024  # of each answer: a few batches of ~120 KiB, far from all
STALL_TIMEOUT = 2.0
BOUND = STALL_TIMEOUT + 15  # psycopg's cancel of the stalled statement takes up to 10 s
ORG = uuid.UUID(int=7)
Fault = Literal["hold", "reset", "garble"]


@pytest.fixture
def databases(source_server_url: str) -> Iterator[tuple[str, str]]:
    """A source database with ``ROWS`` rows in ``big`` and an empty destination database."""
    names = [f"thedata_faults_{side}_{uuid.uuid4().hex[:8]}" for side in ("src", "dst")]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = [make_conninfo(source_server_url, dbname=name) for name in names]
    with psycopg.connect(urls[0], autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, updated bigint NOT NULL, body text)"
        )
        connection.execute(
            "INSERT INTO big SELECT n, n / 10, repeat('b', 100) FROM generate_series(1, %s) n",
            (ROWS,),
        )
    yield urls[0], urls[1]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def config(endpoint: tuple[str, int, str, str]) -> dict[str, Any]:
    host, port, database, user = endpoint
    return {"host": host, "port": port, "database": database, "user": user}


def rows_of(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        exists = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if exists is None or exists[0] is None:
            return []
        query = sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))
        return connection.execute(query).fetchall()


async def move(
    proxy_endpoint: tuple[str, int, str, str],
    destination: tuple[str, int, str, str],
    mode: StreamMode,
    epoch: int,
) -> int:
    factory = DefaultConnectorFactory(
        Path("/nonexistent"), NetworkPolicy(allow_private=True), 5, control_database=None
    )
    reader = factory.reader(ORG, DataSourceKind.POSTGRES, config(proxy_endpoint), {})
    writer = factory.writer(ORG, DataSourceKind.POSTGRES, config(destination), {})
    if mode is StreamMode.INCREMENTAL:
        stream = Stream("big", "big", mode, "updated", ("id",))
    else:
        stream = Stream("big", "big", mode)
    outcome = await move_stream(
        reader,
        writer,
        pipeline="faults",
        stream=stream,
        epoch=epoch,
        batch_rows=BATCH_ROWS,
        stall_timeout=STALL_TIMEOUT,
    )
    return outcome.rows


@pytest.mark.parametrize("mode", [StreamMode.INCREMENTAL, StreamMode.FULL_REFRESH])
@pytest.mark.parametrize("fault", ["hold", "reset", "garble"])
async def test_a_source_failing_mid_copy_fails_the_stream_in_time_and_loses_nothing(
    databases: tuple[str, str], fault: Fault, mode: StreamMode
) -> None:
    source_url, destination_url = databases
    expected = rows_of(source_url, "big")
    with (
        proxied_endpoint(source_url) as (source, proxy),
        tcp_endpoint(destination_url) as destination,
    ):
        await failing_move(proxy, source, destination, fault, mode)

        held = rows_of(destination_url, "big")
        if mode is StreamMode.INCREMENTAL:  # the committed batches: a prefix of the source
            assert held == expected[: len(held)]
            assert len(held) % BATCH_ROWS == 0
        else:  # a full refresh publishes all or nothing
            assert held == []

        proxy.heal()
        await asyncio.wait_for(move(source, destination, mode, epoch=2), timeout=120)
    assert rows_of(destination_url, "big") == expected


async def failing_move(
    proxy: PartitionableProxy,
    source: tuple[str, int, str, str],
    destination: tuple[str, int, str, str],
    fault: Fault,
    mode: StreamMode,
    after_bytes: int = CHOKED_AFTER,
) -> None:
    proxy.choke(after_bytes, then=fault)
    started = time.monotonic()
    with pytest.raises(StreamFailed) as failed:
        # the outer bound only turns a hang into a failure of this test
        await asyncio.wait_for(move(source, destination, mode, epoch=1), timeout=BOUND + 30)
    elapsed = time.monotonic() - started
    assert failed.value.retryable, failed.value
    assert elapsed < BOUND, f"the stream took {elapsed:.1f} s to fail"
    assert "password" not in str(failed.value).lower()


@pytest.mark.parametrize("after_bytes", [700, 4000])
async def test_a_source_that_stalls_before_any_row_fails_the_stream_in_time(
    databases: tuple[str, str], after_bytes: int
) -> None:
    """Stalled while the engine asks for the table's shape or opens the read: bounded too."""
    source_url, destination_url = databases
    with (
        proxied_endpoint(source_url) as (source, proxy),
        tcp_endpoint(destination_url) as destination,
    ):
        await failing_move(proxy, source, destination, "hold", StreamMode.INCREMENTAL, after_bytes)
        assert rows_of(destination_url, "big") == []


@pytest.mark.parametrize("after_bytes", [2000, 6000])
async def test_a_destination_that_stalls_fails_the_stream_in_time_and_keeps_its_batches(
    databases: tuple[str, str], after_bytes: int
) -> None:
    """The destination holds its answers after a batch or more: the stream fails in time,
    what was committed stays, and the next attempt finishes exact."""
    source_url, destination_url = databases
    expected = rows_of(source_url, "big")
    with (
        tcp_endpoint(source_url) as source,
        proxied_endpoint(destination_url) as (destination, proxy),
    ):
        await failing_move(proxy, source, destination, "hold", StreamMode.INCREMENTAL, after_bytes)
        held = rows_of(destination_url, "big")
        assert 0 < len(held) < len(expected)  # stalled mid-stream, after a batch or more
        assert held == expected[: len(held)]
        proxy.heal()
        await asyncio.wait_for(
            move(source, destination, StreamMode.INCREMENTAL, epoch=2), timeout=120
        )
    assert rows_of(destination_url, "big") == expected
