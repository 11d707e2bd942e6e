"""The pool fails requests at once only while the database is gone, not when it refuses."""

from __future__ import annotations

import asyncio
import time

import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg_pool import PoolTimeout

from tests.conftest import free_port
from thedata.adapters.postgres import EmbeddedPostgres
from thedata.adapters.postgres.fail_fast_pool import DatabaseKnownDown, FailFastPool
from thedata.adapters.postgres.pool import open_pool


async def until(condition: object, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the pool never got there"
        await asyncio.sleep(0.05)


async def test_a_database_nobody_answers_for_fails_requests_at_once() -> None:
    """Connection refused: known down after the first attempt; requests fail in no time."""
    pool = FailFastPool(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout=3, open=False)
    await pool.open(wait=False)
    try:
        await until(lambda: pool.database_down)
        for _ in range(5):
            started = time.perf_counter()
            with pytest.raises(DatabaseKnownDown):
                await pool.getconn()
            assert time.perf_counter() - started < 0.1
    finally:
        await pool.close()


@pytest.mark.postgres
async def test_a_server_that_answers_with_a_refusal_is_not_down(database_url: str) -> None:
    """A database that does not exist (or a wrong password, too many clients): the server is
    there, so requests wait for a connection as usual and are refused by the pool's timeout."""
    missing = make_conninfo(database_url, dbname="no_such_database")
    pool = FailFastPool(missing, timeout=1, open=False)
    await pool.open(wait=False)
    try:
        await until(lambda: pool.get_stats().get("connections_errors", 0) > 0)
        assert not pool.database_down
        with pytest.raises(PoolTimeout) as raised:
            await pool.getconn()
        assert not isinstance(raised.value, DatabaseKnownDown)
    finally:
        await pool.close()


@pytest.mark.slow
async def test_the_pool_finds_the_database_again_without_any_request(
    own_server: EmbeddedPostgres,
) -> None:
    """Down, then back while nobody asks for a connection: the pool reconnects by itself
    (psycopg's own retries stop after its reconnect window), so the next request is served
    rather than refused."""
    url = own_server.start()
    pool = FailFastPool(url, min_size=1, timeout=3, reconnect_timeout=1, open=False)
    await pool.open(wait=True)
    try:
        await asyncio.to_thread(own_server.stop)
        await pool.check()  # finds the pooled connection broken; replacing it fails
        await until(lambda: pool.database_down)
        await asyncio.sleep(2)  # past the pool's own reconnect window
        await asyncio.to_thread(own_server.start)
        await until(lambda: not pool.database_down, within=10)
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
    finally:
        await pool.close()


@pytest.mark.postgres
async def test_a_slow_statement_is_cancelled_by_the_server_not_taken_for_silence(
    database_url: str,
) -> None:
    """The answer deadline lies past the statement timeout: a statement the server cancels
    is the caller's timeout, and the database is not counted as gone."""
    pools = open_pool(
        database_url,
        min_size=1,
        max_size=2,
        connect_timeout=2,
        statement_timeout=0.5,
        acquire_timeout=2,
        startup_timeout=5,
    )
    pool = await anext(pools)
    try:
        async with pool.connection() as connection:
            with pytest.raises(errors.QueryCanceled):
                await connection.execute("SELECT pg_sleep(1)")
        assert isinstance(pool, FailFastPool)
        assert not pool.database_down
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
    finally:
        await pools.aclose()
