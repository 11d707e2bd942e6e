"""A request's caller and use case share one pooled connection, and the pool never loses it.

Against a real pool of two connections: the server's backend pid tells which session a
unit of work ran on, and the pool's own counters how many checkouts were made. The
failure these tests exist for is a connection left out of the pool: with two, the third
request would wait for its acquire timeout, so each test ends by taking both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool

from tests.conftest import pool_on
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.adapters.postgres.handoff import handing_on, request_scope


@pytest.fixture
async def pool(migrated_database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with pool_on(migrated_database_url, min_size=2, max_size=2) as opened:
        yield opened


async def _backend(uow: PostgresUnitOfWork) -> int:
    row = await (await uow.connection.execute("SELECT pg_backend_pid()")).fetchone()
    assert row is not None
    return int(row[0])


async def _reading_backend(pool: AsyncConnectionPool) -> int:
    async with PostgresUnitOfWork(pool).reading() as uow:
        return await _backend(uow)


def _checkouts(pool: AsyncConnectionPool) -> int:
    return int(pool.get_stats().get("requests_num", 0))


async def _pool_is_whole(pool: AsyncConnectionPool) -> None:
    """Both connections can be taken at once, without waiting."""
    first = await pool.getconn(timeout=1)
    second = await pool.getconn(timeout=1)
    await pool.putconn(first)
    await pool.putconn(second)


async def test_the_use_case_runs_on_the_connection_the_caller_was_read_on(
    pool: AsyncConnectionPool,
) -> None:
    """One checkout for both units of work; the one after them takes its own."""
    before = _checkouts(pool)
    async with request_scope():
        with handing_on():
            caller = await _reading_backend(pool)
        use_case = await _reading_backend(pool)
        await _reading_backend(pool)
    assert use_case == caller
    assert _checkouts(pool) - before == 2  # the caller's, and the third unit's
    await _pool_is_whole(pool)


async def test_a_write_after_the_hand_over_commits_in_its_own_transaction(
    pool: AsyncConnectionPool,
) -> None:
    """The handed-on connection (left in autocommit by a read) runs a real transaction."""
    async with request_scope():
        with handing_on():
            await _reading_backend(pool)
        async with PostgresUnitOfWork(pool) as uow:
            await uow.connection.execute("CREATE TABLE handed (n int)")
            await uow.connection.execute("INSERT INTO handed VALUES (1)")
            status = uow.connection.info.transaction_status.name
            await uow.connection.execute("INSERT INTO handed VALUES (2)")
            # not committed: leaving the block rolls the transaction back
    assert status == "INTRANS"
    async with PostgresUnitOfWork(pool).reading() as uow:
        with pytest.raises(Exception, match="handed"):
            await uow.connection.execute("SELECT * FROM handed")
    await _pool_is_whole(pool)


async def test_nothing_is_handed_on_after_an_error(pool: AsyncConnectionPool) -> None:
    """A unit of work that failed returns its connection to the pool, not to the slot."""
    before = _checkouts(pool)
    async with request_scope():
        with handing_on(), pytest.raises(ZeroDivisionError):
            async with PostgresUnitOfWork(pool).reading():
                _ = 1 / 0
        await _reading_backend(pool)
    assert _checkouts(pool) - before == 2
    await _pool_is_whole(pool)


async def test_a_connection_nobody_took_goes_back_when_the_request_ends(
    pool: AsyncConnectionPool,
) -> None:
    """A refused caller, or a request that needed no use case: the pool gets it back."""
    for _ in range(5):  # with a leak, the third would wait for a connection
        async with request_scope():
            with handing_on():
                await _reading_backend(pool)
    await _pool_is_whole(pool)


async def test_a_cancelled_request_gives_its_connection_back(pool: AsyncConnectionPool) -> None:
    """Cancelled while the connection waits in its slot: it is returned all the same."""
    parked = asyncio.Event()

    async def request() -> None:
        async with request_scope():
            with handing_on():
                await _reading_backend(pool)
            parked.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(request())
    await parked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _pool_is_whole(pool)


async def test_outside_a_request_scope_nothing_is_handed_on(pool: AsyncConnectionPool) -> None:
    """A worker or a library user: every unit of work takes and returns its own."""
    before = _checkouts(pool)
    with handing_on():
        await _reading_backend(pool)
    await _reading_backend(pool)
    assert _checkouts(pool) - before == 2
    await _pool_is_whole(pool)


async def test_a_connection_is_handed_on_only_within_its_own_pool(
    pool: AsyncConnectionPool, migrated_database_url: str
) -> None:
    """Two pools in one process (two containers): a unit of work never takes the other's."""
    async with pool_on(migrated_database_url, min_size=1, max_size=1) as other:
        async with request_scope():
            with handing_on():
                caller = await _reading_backend(pool)
            elsewhere = await _reading_backend(other)
        assert elsewhere != caller
        await _pool_is_whole(pool)
