"""Driver errors become port errors at one choke point; transient ones are retried there."""

from __future__ import annotations

import math

import psycopg
import pytest
import stamina

from tests.conftest import free_port, pool_on
from thedata.adapters.postgres import (
    PostgresUnitOfWork,
    open_pool,
    retry_transient,
    translated_errors,
)
from thedata.application.errors import ConcurrentUpdate, DatabaseUnavailable
from thedata.domain.errors import InvalidInput

pytestmark = pytest.mark.postgres


async def raise_sqlstate(database_url: str, sqlstate: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        with translated_errors():
            await connection.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$"
            )


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_serialization_failures_and_deadlocks_become_concurrent_update(
    database_url: str, sqlstate: str
) -> None:
    """Both mean another transaction won: the caller may retry the whole unit of work."""
    with pytest.raises(ConcurrentUpdate):
        await raise_sqlstate(database_url, sqlstate)


async def test_a_statement_over_the_timeout_becomes_database_unavailable(
    database_url: str,
) -> None:
    """The statement timeout cancels a slow query and the caller learns the database is slow."""
    async with pool_on(database_url, statement_timeout=0.1) as pool:
        with pytest.raises(DatabaseUnavailable, match="in time"):
            async with PostgresUnitOfWork(pool) as uow:
                await uow.connection.execute("SELECT pg_sleep(2)")


@pytest.mark.parametrize(
    ("statement", "value"),
    [("SELECT %s::text", "a\x00b"), ("SELECT %s::int", "twelve"), ("SELECT %s::uuid", "x")],
)
async def test_values_the_database_cannot_store_become_invalid_input(
    database_url: str, statement: str, value: str
) -> None:
    """A NUL character or an unconvertible value is the caller's invalid input, not a 500."""
    async with pool_on(database_url) as pool:
        with pytest.raises(InvalidInput, match="cannot be stored"):
            async with PostgresUnitOfWork(pool) as uow:
                await uow.connection.execute(statement, (value,))


async def test_other_driver_errors_pass_through_as_bugs(database_url: str) -> None:
    """A syntax error is not the database's fault: it is not disguised as an outage."""
    with pytest.raises(psycopg.errors.SyntaxError):
        async with await psycopg.AsyncConnection.connect(database_url) as connection:
            with translated_errors():
                await connection.execute("SELEC 1")


async def test_opening_a_pool_on_a_dead_server_fails_with_database_unavailable() -> None:
    """No server: start-up stops with the port's error, not a driver traceback."""
    with pytest.raises(DatabaseUnavailable):
        await anext(
            open_pool(
                f"postgresql://nobody@127.0.0.1:{free_port()}/none",
                min_size=1,
                max_size=1,
                connect_timeout=2,
                statement_timeout=1,
                acquire_timeout=1,
                startup_timeout=0,
            )
        )


async def test_entering_a_unit_of_work_without_a_free_connection_is_unavailable(
    database_url: str,
) -> None:
    """When the pool is exhausted past the acquire timeout, the answer is a fast 'unavailable'."""
    async with (
        pool_on(database_url, max_size=1, acquire_timeout=0.2) as pool,
        PostgresUnitOfWork(pool),
    ):
        with pytest.raises(DatabaseUnavailable):
            async with PostgresUnitOfWork(pool):
                pass


async def test_transient_errors_are_retried_and_others_are_not() -> None:
    """Idempotent work is tried again on a transient error and never on anything else."""
    calls = {"transient": 0, "bug": 0}

    @retry_transient
    async def flaky() -> str:
        calls["transient"] += 1
        if calls["transient"] < 3:
            raise DatabaseUnavailable("down")
        return "done"

    @retry_transient
    async def broken() -> None:
        calls["bug"] += 1
        raise ValueError("bug")

    with stamina.set_testing(True, attempts=3):
        assert await flaky() == "done"
        with pytest.raises(ValueError, match="bug"):
            await broken()
    assert calls == {"transient": 3, "bug": 1}


async def test_json_the_fast_decoder_refuses_is_still_read(database_url: str) -> None:
    """json and jsonb are decoded by msgspec; text msgspec refuses and PostgreSQL keeps (a
    json number beyond a double, written as is) falls back to the standard library rather
    than failing the read."""
    async with pool_on(database_url) as pool, pool.connection() as connection:
        cursor = await connection.execute(
            """SELECT '{"s": "é", "a": [1, 2.5, null]}'::jsonb, '{"n": 1e400}'::json"""
        )
        assert await cursor.fetchone() == ({"s": "é", "a": [1, 2.5, None]}, {"n": math.inf})
