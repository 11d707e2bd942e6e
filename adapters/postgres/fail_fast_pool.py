"""A connection pool that stops making requests wait for a database it knows is gone.

psycopg's pool makes every request wait its whole acquire timeout (5 s by default) for a
connection while the database is down: the first requests fail fast on their broken
connections, the rest queue until they time out, all at once, and clients retrying pile
up behind them. This pool watches its own connection attempts instead. Once one fails
for want of the database (refused, unreachable, timed out, shutting down) and no pooled
connection is left to try, every request fails at once with an error the API answers as a
503 with ``Retry-After``. Meanwhile a task of its own has the pool try to connect again
every second (psycopg's own retries stop after ``reconnect_timeout``), so the service finds
the database again by itself, traffic or not: the first connection made clears it.

A database that goes silent (a network partition, a frozen host: nothing refused, nothing
answered) is found by a deadline on every answer: the server cancels a statement at its
statement timeout, so an answer that has not come some seconds later never will. The
connection is then closed, and requests fail at once, idle connections or not (they lead
to the same silent server), until a new connection is made (the background task tries
one every second; making one is an exchange with the server, so it proves an answer).
Behind a pooler that drops the ``options`` startup parameter (PgBouncer's
``ignore_startup_parameters``), the server's statement timeout is not set: a statement
running past the deadline is then taken for silence. A pooled connection is never used to
wait for notifications (``notifies()`` would wait past the deadline).

A server that refuses for another reason (too many clients, a wrong password) is not
"gone": requests go on waiting for the pooled connections. Behind a connection pooler
(PgBouncer) logins succeed while PostgreSQL is down, and requests wait as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = structlog.get_logger(__name__)

RETRY_EVERY = 1.0  # seconds between attempts to reconnect while the database is known gone
# A failed connection attempt carries no SQLSTATE, only libpq's text. The server's own
# refusals come with its severity ("FATAL:  too many clients already"); those that mean it
# is going or not yet there count as gone. A server whose messages are translated to a
# language that renames FATAL makes every refusal count as gone (the pool then fails
# requests at once a little too eagerly, never waits on a dead database).
_SERVER_ANSWERED = ("FATAL:", "ERROR:")
_SERVER_GOING_AWAY = ("the database system is",)  # starting up, shutting down, in recovery


class DatabaseKnownDown(psycopg.OperationalError):
    """Refused without waiting: the pool's last attempt to connect found no database."""


# psycopg's wait timeout (3.3.6 and later: ``wait(..., timeout=)``) is private; an
# OperationalError it is, and only ours is caught as one
_WAIT_TIMEOUT: type[psycopg.OperationalError] = psycopg.errors._WaitTimeout


class DatabaseSilent(psycopg.OperationalError):
    """The database did not answer within the deadline: the connection was closed."""


class _Watch:
    """What the pool's connection attempts and answers last said of the database."""

    def __init__(self) -> None:
        self.down = False
        self.silent = False
        self.on_down: Any = None  # told when the database goes (the pool starts retrying)
        # before the first connection, start-up reports a missing database in its own words
        self._ever_connected = False
        self._last_success = float("-inf")

    def failed(self, error: BaseException, started: float) -> None:
        if started < self._last_success:
            return  # an attempt older than a connection made since: stale news
        message = str(error)
        answered = any(mark in message for mark in _SERVER_ANSWERED)
        if answered and not any(going in message for going in _SERVER_GOING_AWAY):
            return  # the server answered (too many clients, a wrong password): it is there
        if not self.refusing and self._ever_connected:
            log.error(
                "control database unreachable: requests fail at once until it answers",
                error=message.splitlines()[0] if message else type(error).__name__,
            )
        if not self.refusing and self.on_down is not None:
            self.on_down()
        self.down = True

    def connected(self, started: float) -> None:
        if (self.down or self.silent) and self._ever_connected:
            log.warning("control database reachable again")
        self.down = self.silent = False
        self._ever_connected = True
        self._last_success = max(self._last_success, started)

    def timed_out(self, deadline: float) -> None:
        if not (self.down or self.silent):
            log.error(
                "control database unreachable: requests fail at once until it answers",
                error=f"no answer within {deadline:g} s",
            )
            if self.on_down is not None:
                self.on_down()
        self.silent = True

    @property
    def refusing(self) -> bool:
        return self.down or self.silent


def _watched_connection_class(
    watch: _Watch, answer_timeout: float | None
) -> type[AsyncConnection[Any]]:
    class WatchedConnection(AsyncConnection[Any]):
        async def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - psycopg's own signature
            """Every exchange with the server (a statement, a commit) under the deadline."""
            ours = timeout is None and answer_timeout is not None
            try:
                return await super().wait(
                    gen, interval=interval, timeout=answer_timeout if ours else timeout
                )
            except _WAIT_TIMEOUT as e:
                if not ours or self.closed:
                    raise
                await self.close()  # in the middle of an exchange: never usable again
                watch.timed_out(answer_timeout)  # type: ignore[arg-type] # ours: not None
                raise DatabaseSilent(
                    f"the database did not answer within {answer_timeout:g} s"
                ) from e

        @classmethod
        async def connect(cls, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                connection = await super().connect(*args, **kwargs)
            except psycopg.OperationalError as e:
                watch.failed(e, started)
                raise
            watch.connected(started)
            return connection

    return WatchedConnection


class FailFastPool(AsyncConnectionPool[AsyncConnection[Any]]):
    """``AsyncConnectionPool`` that fails requests at once while the database is known gone
    (see the module)."""

    def __init__(
        self, conninfo: str, *, answer_timeout: float | None = None, **kwargs: Any
    ) -> None:
        """``answer_timeout``: seconds after which a connection whose server has not answered
        is closed and the database counted as silent (``None``: no deadline)."""
        self._watch = _Watch()
        self._watch.on_down = self._start_retrying
        self._conninfo, self._connect_kwargs = conninfo, dict(kwargs.get("kwargs") or {})
        self._retrying: asyncio.Task[None] | None = None
        super().__init__(
            conninfo,
            connection_class=_watched_connection_class(self._watch, answer_timeout),
            **kwargs,
        )

    @property
    def database_down(self) -> bool:
        """Whether the last connection attempt found no database, or the last answer did not
        come in time (and none has since)."""
        return self._watch.refusing

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:  # noqa: ASYNC109 - the pool's own signature
        watch = self._watch
        if (
            self.closed
            or not watch.refusing
            or (not watch.silent and self.get_stats().get("pool_available"))
        ):
            # a pooled connection may still work (one attempt failed on a live server);
            # if it does not, its request fails fast on it anyway. Not so when the server
            # went silent: every pooled connection would wait out the deadline.
            return await super().getconn(timeout)
        raise DatabaseKnownDown(
            "the database is unavailable: the last attempt to connect to it failed"
        )

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the pool's own signature
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        await super().close(timeout)

    def _start_retrying(self) -> None:
        if self._retrying is None or self._retrying.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to retry from
                self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        """Until the database answers: every second, have the pool try to connect (``check``
        grows an empty pool, a no-op while an attempt is under way, and drops pooled
        connections that broke), bounded so that a silent database cannot hold it. While
        the database is silent, pooled connections are left alone (each would wait out the
        deadline): a new connection is the probe, and the first one made clears it."""
        while self._watch.refusing and not self.closed:
            await asyncio.sleep(RETRY_EVERY)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(RETRY_EVERY * 5):
                    if self._watch.silent:
                        probe = await self.connection_class.connect(
                            self._conninfo, **self._connect_kwargs
                        )
                        await probe.close()
                    else:
                        await self.check()
