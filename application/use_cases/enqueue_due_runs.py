"""The scheduler: queue a run of each pipeline whose schedule came due, once per due time.

Every worker runs it, so many may run it at once. Each pass takes the due
pipelines locked (``PipelineRepository.due``: rows another scheduler holds are
skipped), queues one run per pipeline for the latest due time that has passed
and moves the pipeline's last due time there, all in one transaction: a
scheduler arriving later finds the pipeline no longer due, and the store keeps
one run per pipeline and due time besides. After downtime that is one catch-up
run, not one per missed due time.

A pipeline that still has a queued or running run gets no run, and its last
due time moves on all the same: the due time is passed over, not kept for
later. A queued run starts after the due time, so it reads everything the
scheduled one would; a running one may have started before, and what changed
in between waits for the next due time. Keeping the due time pending instead
would queue a run the moment the active one ends, back to back whenever runs
take longer than the interval, and make every scheduler pass look at the
pipeline again meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from thedata.application.ports import Clock, IdFactory, UnitOfWorkFactory
from thedata.domain.runs import Run, RunTrigger
from thedata.domain.schedules import EverySeconds, Schedule, next_due

_FIRST_LOOK_BACK = timedelta(minutes=1)


def latest_due(schedule: Schedule, since: datetime, now: datetime) -> datetime | None:
    """The latest due time after ``since`` and at or before ``now`` (``None``: none yet).

    Walking ``next_due`` from ``since`` after a long downtime could take millions of
    steps (a cron firing every minute, a year down), so the walk starts close to ``now``:
    an interval keeps its phase (``since`` plus whole intervals), and a cron's latest due
    time does not depend on where the walk starts as long as one falls between the start
    and ``now``, so the start moves back, doubling, until one does.
    """
    if isinstance(schedule, EverySeconds):
        interval = timedelta(seconds=schedule.seconds)
        skipped = max(0, (now - since) // interval - 1)
        return _walk(schedule, since + skipped * interval, now)
    look_back = _FIRST_LOOK_BACK
    while True:
        start = max(since, now - look_back)
        found = _walk(schedule, start, now)
        if found is not None or start == since:
            return found
        look_back *= 2


def _walk(schedule: Schedule, start: datetime, now: datetime) -> datetime | None:
    """The last of the due times after ``start`` that are at or before ``now``."""
    latest = None
    due = next_due(schedule, start)
    while due is not None and due <= now:
        latest = due
        due = next_due(schedule, due)
    return latest


class EnqueueDueRuns:
    """Queues the due scheduled runs (see the module's docstring for the rules)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory, max_attempts: int
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._max_attempts = max_attempts

    async def enqueue(self, limit: int = 100) -> Sequence[Run]:
        """The runs queued for up to ``limit`` due pipelines (more wait for the next call).
        Safe to run in many workers at once."""
        now = self._clock.now()
        queued: list[Run] = []
        async with self._uow() as uow:
            for pipeline in await uow.pipelines.due(now, limit):
                if pipeline.schedule is None:  # due() gives scheduled pipelines only
                    continue
                since = pipeline.last_scheduled_for or pipeline.created_at
                due = latest_due(pipeline.schedule, since, now)
                if due is not None:
                    run = Run.queued(
                        self._ids.new_id(),
                        pipeline.organization_id,
                        pipeline.id,
                        RunTrigger.SCHEDULE,
                        now,
                        self._max_attempts,
                        scheduled_for=due,
                    )
                    # refused while the pipeline has an active run: passed over, see above
                    if await uow.runs.add_scheduled(run):
                        queued.append(run)
                # not due yet (never scheduled, or rescheduled): only the next due time is new
                following = next_due(pipeline.schedule, due or since)
                await uow.pipelines.record_scheduled(
                    pipeline.organization_id, pipeline.id, due, following
                )
            await uow.commit()
        return queued
