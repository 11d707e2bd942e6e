"""Worker presence in memory, stamped with the store's clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables
from thedata.domain.workers import WorkerPresence


class InMemoryWorkerRegistry:
    """Workers by id."""

    def __init__(self, tables: Tables, now: Callable[[], datetime]) -> None:
        self._tables, self._now = tables, now

    def _rows(self) -> dict[str, WorkerPresence]:
        rows: dict[str, WorkerPresence] = self._tables("workers")
        return rows

    async def beat(
        self, worker_id: str, host: str, pid: int, concurrency: int, runs_held: int
    ) -> None:
        now, rows = self._now(), self._rows()
        known = rows.get(worker_id)
        if known is None:
            rows[worker_id] = WorkerPresence(worker_id, host, pid, concurrency, runs_held, now, now)
        else:
            rows[worker_id] = evolve(
                known, concurrency=concurrency, runs_held=runs_held, last_seen_at=now
            )

    async def gone(self, worker_id: str) -> None:
        self._rows().pop(worker_id, None)

    async def all(self) -> Sequence[WorkerPresence]:
        return sorted(self._rows().values(), key=lambda w: (-w.last_seen_at.timestamp(), w.id))

    async def forget_silent(self, before: datetime) -> int:
        rows = self._rows()
        silent = [key for key, worker in rows.items() if worker.last_seen_at < before]
        for key in silent:
            del rows[key]
        return len(silent)
