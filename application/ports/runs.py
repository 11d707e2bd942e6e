"""The run queue: runs of pipelines, stored where the product's state is (PostgreSQL).

There is no second job table: a run's row is both what the API shows and what
workers take. At most one run of a pipeline is queued or running at a time. A
worker takes the oldest claimable run with ``next_claimable`` (which skips
runs other units of work hold, so many workers never take one run twice),
changes it through the domain (``Run.claim``...) and stores it with ``save``,
a compare-and-set on the attempt and status it read: a worker whose attempt
was taken over (its lease expired and the reaper re-queued the run, another
worker claimed it) stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from attrs import frozen

from thedata.domain.pagination import Page, PageRequest
from thedata.domain.runs import Run, RunStatus


@frozen
class RunBacklog:
    """The queue at a glance."""

    queued: int
    oldest_ready_at: datetime | None


class RunRepository(Protocol):
    """Runs of organizations' pipelines."""

    async def now(self) -> datetime:
        """The store's time, at the start of this unit of work: the one clock every worker's
        leases are set and compared with, whatever each host's own clock says."""
        ...

    async def add(self, run: Run) -> None:
        """Store a new queued run; ``RunAlreadyActive`` when its pipeline has a queued or
        running run (checked by the store itself, so two concurrent triggers cannot both
        succeed)."""
        ...

    async def add_scheduled(self, run: Run) -> bool:
        """Store a new queued run with its due time (``run.scheduled_for``); ``False``,
        storing nothing, when its pipeline has a queued or running run, or already has a run
        for that due time (the store keeps one per pipeline and due time, so two schedulers
        cannot both queue it)."""
        ...

    async def get(self, organization_id: UUID, run_id: UUID, *, lock: bool = False) -> Run | None:
        """The organization's run, if it exists; with ``lock``, held against concurrent
        changes until the unit of work ends."""
        ...

    async def list(
        self,
        organization_id: UUID,
        page: PageRequest,
        *,
        pipeline_id: UUID | None = None,
        status: RunStatus | None = None,
    ) -> Page[Run]:
        """The organization's runs, newest first (one pipeline's, one status's)."""
        ...

    async def find_in_any_organization(self, run_id: UUID) -> Run | None:
        """A run by its id alone, whichever organization's: for operators' tools only (the
        API looks every run up within its organization)."""
        ...

    async def active(self, limit: int) -> Sequence[Run]:
        """Up to ``limit`` queued and running runs across organizations, queued longest
        first."""
        ...

    async def stuck(
        self, expired_before: datetime, ready_before: datetime, limit: int
    ) -> Sequence[Run]:
        """Up to ``limit`` runs no worker is moving, across organizations, queued longest
        first: running runs whose lease ended before ``expired_before`` (no reaper took them
        back) and queued runs claimable since before ``ready_before`` (no worker took them;
        since their ``not_before`` when it is later than their ``queued_at``)."""
        ...

    async def next_claimable(self, now: datetime) -> Run | None:
        """The oldest queued run whose ``not_before`` has passed, locked for this unit of
        work; runs other units of work hold are skipped, never waited for."""
        ...

    async def expired(self, now: datetime, limit: int) -> Sequence[Run]:
        """Up to ``limit`` running runs whose lease ended before ``now``, locked for this unit
        of work (runs another unit holds are skipped: another reaper has them)."""
        ...

    async def backlog(self, now: datetime) -> RunBacklog:
        """How many runs are queued (across organizations), and since when the longest
        waiting claimable one has waited: since it was queued, or queued again (its
        ``not_before``), whichever is later; a run waiting out a backoff is not waiting
        for a worker yet."""
        ...

    async def purge_finished(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` runs that finished before ``before``; how many went."""
        ...

    async def save(self, run: Run, *, attempt: int, status: RunStatus) -> bool:
        """Store ``run``'s changes if the stored run is still at ``attempt`` and ``status``
        (what the caller read); ``False``, storing nothing, when it moved on meanwhile."""
        ...
