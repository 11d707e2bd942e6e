"""The worker's side of the run queue: claim, renew, finish and reap, every step fenced.

Every change is stored with a compare-and-set on the attempt and status the
worker read (``RunRepository.save``): a worker whose attempt is over (the
reaper re-queued the run after its lease expired, another worker claimed it)
changes nothing, and learns it from a ``None``.

Time is the store's (``RunRepository.now``), never the worker's host clock: a
lease written by one host and judged by another's reaper would otherwise be
off by the hosts' skew, and a host whose clock is behind would lose every run
it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from attrs import frozen

from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.domain.runs import Backoff, Run, RunError, RunStatus

Change = Callable[[Run, datetime], Run]
"""A run's transition, at the store's time."""
DEFER_MOST = timedelta(minutes=2)
"""How long a run waits for a data source whose circuit is open, before its attempts count."""


class RunQueue:
    """Claims runs for a worker and records what becomes of them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        lease: timedelta,
        backoff: Backoff,
        defer_most: timedelta = DEFER_MOST,
    ) -> None:
        self._uow, self._clock, self._lease, self._backoff = uow, clock, lease, backoff
        self._defer_most = defer_most

    @property
    def lease(self) -> timedelta:
        """How long a claim or a renewal holds a run."""
        return self._lease

    @property
    def clock(self) -> Clock:
        """The host's clock: for durations, and for what hosts alone decide (a data source's
        circuit). Leases use the store's time."""
        return self._clock

    async def claim(self, worker_id: str) -> Run | None:
        """The oldest claimable run, taken for a new attempt with the pipeline's next epoch
        (``None``: nothing to do)."""
        async with self._uow() as uow:
            now = await uow.runs.now()
            run = await uow.runs.next_claimable(now)
            if run is None:
                return None
            epoch = await uow.pipelines.next_epoch(run.organization_id, run.pipeline_id)
            if epoch is None:  # the pipeline went with its runs since: nothing to take
                return None
            claimed = run.claim(worker_id, now, self._lease, epoch)
            if not await uow.runs.save(claimed, attempt=run.attempt, status=run.status):
                return None
            await uow.commit()
        return claimed

    async def _change(self, run: Run, change: Change) -> Run | None:
        """Apply ``change`` to the stored run if ``run``'s attempt still holds it."""
        async with self._uow() as uow:
            stored = await uow.runs.get(run.organization_id, run.id, lock=True)
            if (
                stored is None
                or stored.status is not RunStatus.RUNNING
                or stored.attempt != run.attempt
                or stored.worker_id != run.worker_id
            ):
                return None
            changed = change(stored, await uow.runs.now())
            if not await uow.runs.save(changed, attempt=stored.attempt, status=stored.status):
                return None
            await uow.commit()
        return changed

    async def renew(self, run: Run) -> Run | None:
        """The attempt's lease runs on (``None``: the attempt lost the run). The answer
        says whether a cancel was asked meanwhile."""
        return await self._change(run, lambda r, now: r.renew(now, self._lease))

    async def record(self, run: Run) -> Run | None:
        """Store the attempt's progress (``run``'s streams) and renew its lease."""
        return await self.finish(run, lambda r, now: r.renew(now, self._lease))

    async def succeed(self, run: Run) -> Run | None:
        """The attempt moved every stream."""
        return await self.finish(run, lambda r, now: r.succeeded(now))

    async def fail(self, run: Run, error: RunError) -> Run | None:
        """The attempt failed: queued again after a wait when the error is retryable and
        attempts are left, else the run fails."""
        return await self.finish(run, lambda r, now: r.failed(now, error, self._backoff))

    async def cancelled(self, run: Run) -> Run | None:
        """The attempt stopped because a cancel was asked."""
        return await self.finish(run, lambda r, now: r.cancelled(now))

    async def defer(self, run: Run, wait: timedelta, error: RunError) -> Run | None:
        """A data source is down for ``wait`` more: queued again for then (by the store's
        time), no attempt spent, unless the outage has held the run for ``defer_most``
        already (then it fails as any retryable error does)."""
        return await self.finish(
            run,
            lambda r, now: r.deferred(now, now + wait, error, self._defer_most, self._backoff),
        )

    async def hand_back(self, run: Run) -> Run | None:
        """The worker stops before the attempt ends: queued again, no attempt spent."""
        return await self.finish(run, lambda r, now: r.handed_back(now))

    async def finish(self, run: Run, change: Change) -> Run | None:
        """Store ``run``'s streams' figures, then ``change`` (renew, or end the attempt)."""

        def with_figures(stored: Run, now: datetime) -> Run:
            for name, stats in run.streams.items():
                stored = stored.progressed(name, stats)
            return change(stored, now)

        return await self._change(run, with_figures)

    async def reap(self, limit: int = 100) -> Sequence[Run]:
        """Runs whose lease expired, queued again (after a wait) or failed with
        ``lease_expired`` once their attempts are spent. Safe to run in many workers at
        once: each run is taken by one reaper (the others skip it)."""
        reaped = []
        async with self._uow() as uow:
            now = await uow.runs.now()
            for run in await uow.runs.expired(now, limit):
                lost = run.lease_lost(now, self._backoff)
                if await uow.runs.save(lost, attempt=run.attempt, status=run.status):
                    reaped.append(lost)
            await uow.commit()
        return reaped

    async def backlog(self) -> QueueBacklog:
        """How many runs wait, and for how long the longest has (by the store's clock)."""
        return await backlog_of(self._uow)


async def backlog_of(uow_factory: UnitOfWorkFactory) -> QueueBacklog:
    """How many runs wait, and for how long the longest has (by the store's clock)."""
    async with uow_factory() as uow:
        now = await uow.runs.now()
        backlog = await uow.runs.backlog(now)
    oldest = backlog.oldest_ready_at
    waited = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return QueueBacklog(backlog.queued, waited)


@frozen
class QueueBacklog:
    """Runs queued, and the seconds the longest waiting claimable one has waited since it
    was (re)queued (0 when none)."""

    queued: int
    oldest_wait_seconds: float
