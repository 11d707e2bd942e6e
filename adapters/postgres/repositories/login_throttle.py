"""Password attempt counters in PostgreSQL, shared by every API process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from thedata.adapters.postgres.repositories.connection import ConnectionSource

# Count and read back in one statement: the row lock of the upsert orders
# concurrent attempts on a key, so each sees the count including its own. Rows
# are taken in key order, as everywhere in this module, so that two attempts
# sharing some keys (one account from two addresses) cannot deadlock.
_REGISTER = """
INSERT INTO login_attempts AS a (key, window_started_at, attempts)
SELECT k, %(now)s, 1 FROM unnest(%(keys)s::text[]) AS k ORDER BY k
ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN a.window_started_at <= %(expired)s THEN 1 ELSE a.attempts + 1 END,
    window_started_at = CASE WHEN a.window_started_at <= %(expired)s
                             THEN %(now)s ELSE a.window_started_at END
RETURNING key, attempts, window_started_at
"""

# A refused attempt takes its count back while its transaction still holds the
# rows, so no concurrent attempt ever sees it.
_UNCOUNT = "UPDATE login_attempts SET attempts = attempts - 1 WHERE key = ANY(%(keys)s)"

_LOCK = "SELECT key FROM login_attempts WHERE key = ANY(%(keys)s) ORDER BY key FOR UPDATE"

_FORGIVE = """
WITH cleared AS (DELETE FROM login_attempts WHERE key = ANY(%(clear)s))
UPDATE login_attempts SET attempts = greatest(attempts - 1, 0) WHERE key = ANY(%(uncount)s)
"""


class PostgresLoginThrottle:
    """The ``login_attempts`` table: one row per key and its current window."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def register_attempt(
        self, limits: Mapping[str, int], now: datetime, window: timedelta
    ) -> timedelta | None:
        keys = sorted(limits)
        cursor = await self._connection().execute(
            _REGISTER, {"keys": keys, "now": now, "expired": now - window}
        )
        waits: list[timedelta] = [
            started + window - now
            for key, attempts, started in await cursor.fetchall()
            if attempts > limits[key]
        ]
        if not waits:
            return None
        await self._connection().execute(_UNCOUNT, {"keys": keys})
        return max(waits)

    async def forgive(self, keys: Sequence[str], *, clear: Sequence[str] = ()) -> None:
        uncount = [key for key in keys if key not in clear]
        # lock in key order first: the two writes below would take rows in plan order
        await self._connection().execute(_LOCK, {"keys": sorted([*uncount, *clear])})
        await self._connection().execute(_FORGIVE, {"clear": list(clear), "uncount": uncount})

    async def known(self, key: str, now: datetime) -> bool:
        cursor = await self._connection().execute(
            "SELECT 1 FROM known_clients WHERE key = %s AND until > %s", (key, now)
        )
        return await cursor.fetchone() is not None

    async def remember(self, key: str, until: datetime) -> None:
        await self._connection().execute(
            "INSERT INTO known_clients AS k (key, until) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET until = greatest(k.until, EXCLUDED.until)",
            (key, until),
        )

    async def purge_expired(self, before: datetime, limit: int) -> int:
        cursor = await self._connection().execute(
            # the batch by login_attempts_by_window, its rows by the primary key (`IN
            # (subquery)` hash-joined the whole table)
            "DELETE FROM login_attempts WHERE key = ANY (ARRAY (SELECT key FROM login_attempts"
            " WHERE window_started_at <= %s ORDER BY window_started_at LIMIT %s"
            " FOR UPDATE SKIP LOCKED))",
            (before, limit),
        )
        return max(cursor.rowcount, 0)
