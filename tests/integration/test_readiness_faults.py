"""Readiness under database faults: it fails fast while the database is gone, and recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.faults import PartitionableProxy
from thedata.adapters.postgres import EmbeddedPostgres
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The readiness answer must come within a second even when the database hangs.
READY_DEADLINE = 1.0


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, so it can be stopped without harming others."""
    server = EmbeddedPostgres(tmp_path / "pg", database="faults")
    server.start()
    yield server
    server.stop()


async def timed_get(client: Any, path: str) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    response = await client.get(path)
    return response.status_code, response.json(), time.perf_counter() - started


async def wait_until_ready(client: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await client.get("/health/ready")).status_code == 200:
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"/health/ready did not recover within {within} s")


async def test_ready_fails_fast_when_the_database_stops_and_recovers_when_it_returns(
    own_server: EmbeddedPostgres,
) -> None:
    """Database down: ready is 503 fail in under a second, live stays 200; back up: ready passes."""
    url = own_server.start()  # joining the running server returns its URL
    app = create_app(build_container(make_settings(database_url=url)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/ready")).status_code == 200

        await asyncio.to_thread(own_server.stop)
        for _ in range(3):  # the broken pooled connection first, then refused new ones
            status, body, elapsed = await timed_get(client, "/health/ready")
            assert status == 503
            assert body["status"] == "fail"
            assert elapsed < READY_DEADLINE
            assert (await client.get("/health/live")).status_code == 200

        await asyncio.to_thread(own_server.start)
        await wait_until_ready(client, within=20)


@pytest.fixture
def proxy(own_server: EmbeddedPostgres) -> Iterator[PartitionableProxy]:
    """A proxy to the test's server over its Unix socket."""
    url = own_server.start()
    socket_dir = url.split("host=")[1].split("&")[0]
    proxy = PartitionableProxy(
        lambda: asyncio.open_unix_connection(str(Path(socket_dir) / ".s.PGSQL.5432"))
    )
    proxy.start()
    yield proxy
    proxy.stop()


async def test_ready_answers_in_time_while_the_database_hangs(proxy: PartitionableProxy) -> None:
    """A silent database (network partition) cannot hold readiness past its deadline."""
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/faults"
    app = create_app(build_container(make_settings(database_url=url)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/ready")).status_code == 200

        proxy.partition()
        for _ in range(2):
            status, body, elapsed = await timed_get(client, "/health/ready")
            assert status == 503
            assert body["status"] == "fail"
            assert elapsed < READY_DEADLINE
        assert (await client.get("/health/live")).status_code == 200

        proxy.heal()
        await wait_until_ready(client, within=20)


async def test_service_returns_soon_after_a_long_outage(tmp_path: Path) -> None:
    """Reconnection backs off during an outage, but not so far that recovery lags behind.

    Without a reconnect window the pool's waits double (1, 2, 4, 8 s ...): after an
    8 s outage its next attempt would come about 7 s after the database is back.
    """
    server = EmbeddedPostgres(tmp_path / "pg", database="outage")
    url = server.start()
    app = create_app(build_container(make_settings(database_url=url, db_reconnect_window=2)))
    try:
        async with AsyncTestClient(app) as client:
            await asyncio.to_thread(server.stop)
            outage_ends = time.monotonic() + 8
            while time.monotonic() < outage_ends:  # probed like a load balancer would
                assert (await client.get("/health/ready")).status_code == 503
                await asyncio.sleep(0.5)
            await asyncio.to_thread(server.start)
            await wait_until_ready(client, within=4)
    finally:
        server.stop()
