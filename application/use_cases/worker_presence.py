"""Workers say they are alive; operators and readiness see who is.

A worker beats every few seconds from its loop (with the runs it holds) and
says it is gone when it stops cleanly; a worker killed stops beating and is
shown silent, then forgotten after ``forget_after``. Times are the store's
(as leases are), so hosts' clocks do not matter. Presence is for people: the
runs' leases alone decide who holds a run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import frozen

from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.workers import SILENT_AFTER, WorkerPresence

FORGET_AFTER = timedelta(hours=1)
"""A silent worker is shown (as silent) this long, then forgotten."""


class ReportWorkerPresence:
    """What a worker says of itself."""

    def __init__(self, uow: UnitOfWorkFactory, forget_after: timedelta = FORGET_AFTER) -> None:
        self._uow, self._forget_after = uow, forget_after

    async def beat(
        self, worker_id: str, host: str, pid: int, concurrency: int, runs_held: int
    ) -> None:
        """Alive now, holding ``runs_held`` runs; workers long silent are forgotten."""
        async with self._uow() as uow:
            await uow.workers.beat(worker_id, host, pid, concurrency, runs_held)
            await uow.workers.forget_silent(await uow.runs.now() - self._forget_after)
            await uow.commit()

    async def gone(self, worker_id: str) -> None:
        """Stopped cleanly: no longer shown."""
        async with self._uow() as uow:
            await uow.workers.gone(worker_id)
            await uow.commit()


@frozen
class WorkersSeen:
    """Every known worker, and the store's time they were judged at."""

    now: datetime
    workers: tuple[WorkerPresence, ...]
    silent_after: timedelta = SILENT_AFTER

    @property
    def live(self) -> tuple[WorkerPresence, ...]:
        """The workers heard of within ``silent_after``."""
        return tuple(w for w in self.workers if w.live(self.now, self.silent_after))


class ListWorkers:
    """Who is executing runs: every worker known, live or silent."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self) -> WorkersSeen:
        async with self._uow().reading() as uow:
            return WorkersSeen(await uow.runs.now(), tuple(await uow.workers.all()))
