"""Worker presence in PostgreSQL: the ``workers`` table (``0011_workers.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.workers import WorkerPresence

_BEAT = """
INSERT INTO workers AS w (id, host, pid, concurrency, runs_held, started_at, last_seen_at)
VALUES (%s, %s, %s, %s, %s, now(), now())
ON CONFLICT (id) DO UPDATE SET
    concurrency = excluded.concurrency, runs_held = excluded.runs_held, last_seen_at = now()
"""

_ALL = """
SELECT id, host, pid, concurrency, runs_held, started_at, last_seen_at
FROM workers ORDER BY last_seen_at DESC, id
"""

_FORGET = """
DELETE FROM workers WHERE id IN (
    SELECT id FROM workers WHERE last_seen_at < %s FOR UPDATE SKIP LOCKED
)
"""


class PostgresWorkerRegistry:
    """One row per worker, stamped with the database's ``now()``."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def beat(
        self, worker_id: str, host: str, pid: int, concurrency: int, runs_held: int
    ) -> None:
        await self._connection().execute(_BEAT, (worker_id, host, pid, concurrency, runs_held))

    async def gone(self, worker_id: str) -> None:
        await self._connection().execute("DELETE FROM workers WHERE id = %s", (worker_id,))

    async def all(self) -> Sequence[WorkerPresence]:
        cursor = await self._connection().execute(_ALL)
        return [WorkerPresence(*row) for row in await cursor.fetchall()]

    async def forget_silent(self, before: datetime) -> int:
        cursor = await self._connection().execute(_FORGET, (before,))
        return max(cursor.rowcount, 0)
