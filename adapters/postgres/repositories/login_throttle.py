"""Sign-in attempt counters in PostgreSQL, shared by every API process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from thedata.adapters.postgres.repositories.connection import ConnectionSource

# Count and read back in one statement: the row lock of the upsert orders
# concurrent attempts on a key, so each sees the count including its own.
_REGISTER = """
INSERT INTO login_attempts AS a (key, window_started_at, attempts)
SELECT k, %(now)s, 1 FROM unnest(%(keys)s::text[]) AS k
ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN a.window_started_at <= %(expired)s THEN 1 ELSE a.attempts + 1 END,
    window_started_at = CASE WHEN a.window_started_at <= %(expired)s
                             THEN %(now)s ELSE a.window_started_at END
RETURNING attempts, window_started_at
"""


class PostgresLoginThrottle:
    """The ``login_attempts`` table: one row per key and its current window."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def register_attempt(
        self, keys: Sequence[str], now: datetime, limit: int, window: timedelta
    ) -> timedelta | None:
        cursor = await self._connection().execute(
            _REGISTER, {"keys": sorted(keys), "now": now, "expired": now - window}
        )
        waits = [
            started + window - now
            for attempts, started in await cursor.fetchall()
            if attempts > limit
        ]
        return max(waits) if waits else None

    async def forgive(self, keys: Sequence[str], *, clear: str | None = None) -> None:
        await self._connection().execute(
            "UPDATE login_attempts SET attempts = greatest(attempts - 1, 0) WHERE key = ANY(%s)",
            (list(keys),),
        )
        if clear is not None:
            await self._connection().execute("DELETE FROM login_attempts WHERE key = %s", (clear,))
