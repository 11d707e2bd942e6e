"""Runs in memory, keyed by (organization id, run id)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables
from thedata.application.errors import ReferenceConflict
from thedata.application.ports.runs import RunBacklog
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.runs import Run, RunAlreadyActive, RunStatus

_ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class InMemoryRunRepository:
    """Runs, at most one queued or running per pipeline.

    Locking is implicit: a memory unit of work holds the whole store until it
    ends, so no run is ever held by another open unit and ``next_claimable`` /
    ``expired`` have nothing to skip (concurrent units queue up instead).
    """

    def __init__(self, tables: Tables, now: Callable[[], datetime]) -> None:
        self._tables, self._now = tables, now

    async def now(self) -> datetime:
        return self._now()

    def _rows(self) -> dict[tuple[UUID, UUID], Run]:
        runs: dict[tuple[UUID, UUID], Run] = self._tables("runs")
        # as the database's ON DELETE CASCADE does: a deleted pipeline (or its deleted
        # organization) takes its runs along; dropped here, where they would be seen
        pipelines = self._tables("pipelines")
        gone = [k for k, r in runs.items() if (r.organization_id, r.pipeline_id) not in pipelines]
        for key in gone:
            del runs[key]
        return runs

    async def add(self, run: Run) -> None:
        rows = self._rows()
        if (run.organization_id, run.pipeline_id) not in self._tables("pipelines"):
            raise ReferenceConflict("the run's pipeline does not exist (any more)")
        if run.status in _ACTIVE and any(
            r.pipeline_id == run.pipeline_id and r.status in _ACTIVE for r in rows.values()
        ):
            raise RunAlreadyActive(f"pipeline {run.pipeline_id} has a queued or running run")
        rows[(run.organization_id, run.id)] = evolve(run)

    async def add_scheduled(self, run: Run) -> bool:
        rows = self._rows()
        if run.scheduled_for is not None and any(
            r.pipeline_id == run.pipeline_id and r.scheduled_for == run.scheduled_for
            for r in rows.values()
        ):
            return False
        try:
            await self.add(run)
        except RunAlreadyActive:
            return False
        return True

    async def get(self, organization_id: UUID, run_id: UUID, *, lock: bool = False) -> Run | None:
        run = self._rows().get((organization_id, run_id))
        return evolve(run) if run else None

    async def list(
        self,
        organization_id: UUID,
        page: PageRequest,
        *,
        pipeline_id: UUID | None = None,
        status: RunStatus | None = None,
    ) -> Page[Run]:
        # newest first: ``page.after`` is the last id seen, the next page holds older ids
        runs = sorted(
            (
                evolve(r)
                for (org, run_id), r in self._rows().items()
                if org == organization_id
                and (pipeline_id is None or r.pipeline_id == pipeline_id)
                and (status is None or r.status is status)
                and (page.after is None or run_id < page.after)
            ),
            key=lambda run: run.id,
            reverse=True,
        )
        return Page.from_rows(runs[: page.limit + 1], page, lambda run: run.id)

    async def find_in_any_organization(self, run_id: UUID) -> Run | None:
        found = [r for (_, key), r in self._rows().items() if key == run_id]
        return evolve(found[0]) if found else None

    async def active(self, limit: int) -> Sequence[Run]:
        return self._oldest_first([r for r in self._rows().values() if r.status in _ACTIVE], limit)

    async def stuck(
        self, expired_before: datetime, ready_before: datetime, limit: int
    ) -> Sequence[Run]:
        def unattended(run: Run) -> bool:
            if run.status is RunStatus.RUNNING:
                return run.lease_expires_at is not None and run.lease_expires_at < expired_before
            return run.status is RunStatus.QUEUED and run.ready_at < ready_before

        return self._oldest_first([r for r in self._rows().values() if unattended(r)], limit)

    @staticmethod
    def _oldest_first(runs: Sequence[Run], limit: int) -> Sequence[Run]:
        oldest_first = sorted(runs, key=lambda r: (r.queued_at, r.id))
        return [evolve(r) for r in oldest_first[:limit]]

    async def next_claimable(self, now: datetime) -> Run | None:
        claimable = [r for r in self._rows().values() if r.claimable(now)]
        if not claimable:
            return None
        return evolve(min(claimable, key=lambda r: (r.queued_at, r.id)))

    async def expired(self, now: datetime, limit: int) -> Sequence[Run]:
        expired = [
            r
            for r in self._rows().values()
            if r.status is RunStatus.RUNNING
            and r.lease_expires_at is not None
            and r.lease_expires_at < now
        ]
        expired.sort(key=lambda r: (r.lease_expires_at, r.id))
        return [evolve(r) for r in expired[:limit]]

    async def backlog(self, now: datetime) -> RunBacklog:
        queued = [r for r in self._rows().values() if r.status is RunStatus.QUEUED]
        ready = [r.ready_at for r in queued if r.claimable(now)]
        return RunBacklog(len(queued), min(ready, default=None))

    async def purge_finished(self, before: datetime, limit: int) -> int:
        rows = self._rows()
        old = [
            key
            for key, run in rows.items()
            if run.finished_at is not None and run.finished_at < before
        ][:limit]
        for key in old:
            del rows[key]
        return len(old)

    async def save(self, run: Run, *, attempt: int, status: RunStatus) -> bool:
        rows = self._rows()
        key = (run.organization_id, run.id)
        stored = rows.get(key)
        if stored is None or (stored.attempt, stored.status) != (attempt, status):
            return False
        # what never changes after add stays as stored, as the database's UPDATE leaves it
        rows[key] = evolve(
            run,
            pipeline_id=stored.pipeline_id,
            trigger=stored.trigger,
            max_attempts=stored.max_attempts,
            queued_at=stored.queued_at,
            scheduled_for=stored.scheduled_for,
            # never withdrawn: a worker's copy read before the request must not undo it
            cancel_requested=stored.cancel_requested or run.cancel_requested,
        )
        return True
