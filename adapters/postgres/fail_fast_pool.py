"""A connection pool that stops making requests wait for a database it knows is gone.

psycopg's pool makes every request wait its whole acquire timeout (5 s by default) for a
connection while the database is down: the first requests fail fast on their broken
connections, the rest queue until they time out, all at once, and clients retrying pile
up behind them. This pool watches its own connection attempts instead. Once one fails
for want of the database (refused, unreachable, timed out, shutting down), every request
fails at once with an error the API answers as a 503 with ``Retry-After``. Those failures
also nudge the pool (once a second at most) to try connecting again, which a request's
wait used to do, so the service finds the database again by itself: the first
connection made clears it.

A server that refuses for another reason (too many clients, a wrong password) is not
"gone": the connections already pooled still work, and requests go on waiting for them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = structlog.get_logger(__name__)

NUDGE_EVERY = 1.0  # seconds between nudges to reconnect, while the database is known gone
# A failed connection attempt carries no SQLSTATE, only libpq's text. The server's own
# refusals come with its severity ("FATAL:  too many clients already"); those that mean it
# is going or not yet there count as gone. A server whose messages are translated to a
# language that renames FATAL makes every refusal count as gone (the pool then fails
# requests at once a little too eagerly, never waits on a dead database).
_SERVER_ANSWERED = ("FATAL:", "ERROR:")
_SERVER_GOING_AWAY = ("the database system is",)  # starting up, shutting down, in recovery


class DatabaseKnownDown(psycopg.OperationalError):
    """Refused without waiting: the pool's last attempt to connect found no database."""


class _Watch:
    """What the pool's connection attempts last said of the database."""

    def __init__(self) -> None:
        self.down = False
        # before the first connection, start-up reports a missing database in its own words
        self._ever_connected = False

    def failed(self, error: BaseException) -> None:
        message = str(error)
        answered = any(mark in message for mark in _SERVER_ANSWERED)
        if answered and not any(going in message for going in _SERVER_GOING_AWAY):
            return  # the server answered (too many clients, a wrong password): it is there
        if not self.down and self._ever_connected:
            log.error(
                "control database unreachable: requests fail at once until it answers",
                error=str(error).splitlines()[0] if str(error) else type(error).__name__,
            )
        self.down = True

    def connected(self) -> None:
        if self.down and self._ever_connected:
            log.warning("control database reachable again")
        self.down = False
        self._ever_connected = True


def _watched_connection_class(watch: _Watch) -> type[AsyncConnection[Any]]:
    class WatchedConnection(AsyncConnection[Any]):
        @classmethod
        async def connect(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                connection = await super().connect(*args, **kwargs)
            except psycopg.OperationalError as e:
                watch.failed(e)
                raise
            watch.connected()
            return connection

    return WatchedConnection


class FailFastPool(AsyncConnectionPool[AsyncConnection[Any]]):
    """``AsyncConnectionPool`` that fails requests at once while the database is known gone
    (see the module)."""

    def __init__(self, conninfo: str, **kwargs: Any) -> None:
        self._watch = _Watch()
        self._next_nudge = 0.0
        self._nudges: set[asyncio.Task[None]] = set()
        super().__init__(
            conninfo, connection_class=_watched_connection_class(self._watch), **kwargs
        )

    @property
    def database_down(self) -> bool:
        """Whether the last connection attempt found no database (and none has since)."""
        return self._watch.down

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:  # noqa: ASYNC109 - the pool's own signature
        if not self._watch.down:
            return await super().getconn(timeout)
        self._nudge()
        raise DatabaseKnownDown(
            "the database is unavailable: the last attempt to connect to it failed"
        )

    def _nudge(self) -> None:
        """Have the pool try to connect, in the background: ``check`` grows an empty pool
        (a no-op while an attempt is under way) and drops pooled connections that broke."""
        now = time.monotonic()
        if now < self._next_nudge:
            return
        self._next_nudge = now + NUDGE_EVERY
        task = asyncio.get_running_loop().create_task(self.check())
        self._nudges.add(task)  # kept until done: the loop holds tasks weakly
        task.add_done_callback(self._nudges.discard)
