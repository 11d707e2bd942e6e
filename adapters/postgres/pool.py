"""The process's connection pool to the control database."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import msgspec
import structlog
from opentelemetry.trace import Tracer
from psycopg import AsyncConnection, AsyncCursor
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from thedata.adapters.postgres.errors import translated_errors
from thedata.adapters.postgres.fail_fast_pool import FailFastPool
from thedata.adapters.postgres.slow_statements import SlowStatementReport, timed_cursor_class
from thedata.adapters.postgres.traced_cursor import traced_cursor_class

log = structlog.get_logger(__name__)


def _json_loads(data: bytes | str) -> Any:
    """msgspec's decoder, several times faster than the standard library's (a list of
    pipelines decodes three json columns a row); the standard library's for what msgspec
    refuses and PostgreSQL keeps (a number beyond a double, say ``1e400``)."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


def _configuration(
    tracer: Tracer | None, slow: tuple[float, SlowStatementReport] | None
) -> Callable[[AsyncConnection[Any]], Awaitable[None]]:
    """How each new connection is set up: json decoding, and a cursor class that makes a
    span of each statement (with a tracer) and reports slow ones (with ``slow``); without
    either, psycopg's own cursor, not a call more."""

    async def configure(connection: AsyncConnection[Any]) -> None:
        set_json_loads(_json_loads, connection)
        cursor: type[AsyncCursor[Any]] = AsyncCursor
        if tracer is not None:
            cursor = traced_cursor_class(tracer, connection.info.dbname)
        if slow is not None:
            cursor = timed_cursor_class(cursor, *slow)
        if cursor is not AsyncCursor:
            connection.cursor_factory = cursor

    return configure


async def open_pool(
    conninfo: str,
    *,
    min_size: int,
    max_size: int,
    connect_timeout: float,
    statement_timeout: float,
    acquire_timeout: float,
    startup_timeout: float,
    reconnect_window: float = 10.0,
    tracer: Tracer | None = None,
    slow_statement_seconds: float | None = None,
    on_slow_statement: SlowStatementReport | None = None,
) -> AsyncGenerator[AsyncConnectionPool, None]:
    """Open the pool, wait until it holds ``min_size`` connections, close it afterwards.

    Connections come in whichever autocommit mode their last user left (there is no reset
    function): code that takes one straight from the pool and runs more than one statement
    that must hold together wraps them in ``connection.transaction()``.

    Waits up to ``startup_timeout`` seconds (at least one connect timeout) for a
    database that is still starting: the pool itself retries failed connection
    attempts with backoff meanwhile. Every connection carries the statement
    timeout, so no query holds a request for longer than that.

    After an outage the pool doubles its wait between reconnection attempts;
    ``reconnect_window`` makes it start over with short waits instead, so the
    service is back within seconds of the database, not minutes. Meanwhile requests
    fail at once rather than wait ``acquire_timeout`` each (``FailFastPool``).

    A database that stops answering without refusing (a partition, a frozen host) holds a
    request until the server would have cancelled its statement and a connect timeout
    more, then the request fails (503) and the ones after it at once; TCP keepalives and
    ``tcp_user_timeout`` let the kernel drop connections to a host that is gone.
    """
    connect_seconds = max(2, math.ceil(connect_timeout))
    answer_timeout = statement_timeout + connect_seconds
    pool = FailFastPool(
        conninfo,
        answer_timeout=answer_timeout,
        min_size=min_size,
        max_size=max_size,
        timeout=acquire_timeout,
        reconnect_timeout=reconnect_window,
        open=False,
        name="thedata",
        configure=_configuration(
            tracer,
            (slow_statement_seconds, on_slow_statement)
            if slow_statement_seconds and on_slow_statement is not None
            else None,
        ),
        # No reset function: with one, the pool hands every returned connection to a
        # background task, and the next request waits for that task to run. A connection
        # comes back idle or is discarded, in whichever autocommit mode its last unit of
        # work set (each sets the one it needs).
        kwargs={
            # libpq takes whole seconds and treats values under 2 as 2
            "connect_timeout": connect_seconds,
            # an idle pooled connection to a host that is gone is found within about a
            # minute, and a sent request nobody acknowledges ends the connection by the
            # answer deadline, in the kernel
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": round(answer_timeout * 1000),
            # a process paused inside a transaction (SIGSTOP, a frozen VM) releases its row
            # locks (a run the reaper must take back, a pipeline a claim must update) when the
            # server ends its session: never later than a statement could have run
            # times come back in UTC whatever the server's default zone, as the API gives
            # them (and psycopg then hands them over with ``datetime.UTC``, ready to encode)
            "options": (
                "-c TimeZone=UTC"
                f" -c statement_timeout={round(statement_timeout * 1000)}"
                f" -c idle_in_transaction_session_timeout={round(statement_timeout * 2000)}"
            ),
            "application_name": "thedata",
        },
    )
    try:
        with translated_errors():
            await pool.open(wait=True, timeout=max(startup_timeout, connect_timeout))
        log.info("database pool opened", min_size=min_size, max_size=max_size)
        yield pool
    finally:
        await pool.close()
        log.info("database pool closed")
