"""The scheduler on memory adapters with a manual clock: every due time once, none skipped,
one catch-up run after downtime, disabled pipelines left alone, active runs not doubled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.catalog import Catalog
from tests.identity import T0
from tests.unit.test_run_pipeline import STREAMS
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.use_cases import (
    CreatePipeline,
    EnqueueDueRuns,
    NewPipeline,
    PipelineChanges,
    RunQueue,
    TriggerRun,
    UpdatePipeline,
)
from thedata.application.use_cases.enqueue_due_runs import latest_due
from thedata.domain.runs import Backoff, Run, RunStatus, RunTrigger
from thedata.domain.schedules import Cron, EverySeconds, Schedule, next_due

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Scheduling:
    """A catalog with an organization, two data sources and the run use cases."""

    def __init__(self) -> None:
        self.catalog = Catalog()
        self.clock = self.catalog.identity.clock
        uow, ids = self.catalog.uow, UuidV7IdFactory()
        self.scheduler = EnqueueDueRuns(uow, self.clock, ids, 3)
        self.queue = RunQueue(uow, self.clock, timedelta(seconds=30), Backoff())
        self.trigger = TriggerRun(uow, self.clock, ids, self.catalog.identity.policy, 3)
        self.update = UpdatePipeline(uow, self.clock)
        self._create = CreatePipeline(uow, self.clock, ids, self.catalog.identity.policy)

    async def start(self) -> None:
        owner = await self.catalog.identity.user("ada@example.com")
        self.org, self.owner = await self.catalog.identity.organization(owner)
        self.source = await self.catalog.warehouse(self.owner, self.org, "source")
        self.destination = await self.catalog.warehouse(self.owner, self.org, "destination")

    async def pipeline(
        self, schedule: Schedule | None, name: str = "nightly", enabled: bool = True
    ) -> UUID:
        """A pipeline created now with ``schedule``."""
        command = NewPipeline(name, self.source.id, self.destination.id, STREAMS, schedule, enabled)
        return (await self._create(self.owner, self.org, command)).id

    def at(self, when: datetime) -> None:
        self.clock.current = when

    async def tick(self, when: datetime) -> Sequence[Run]:
        """One scheduler pass at ``when``."""
        self.at(when)
        return await self.scheduler.enqueue()

    async def finish_all(self) -> None:
        """Every queued run is claimed and succeeds (now)."""
        while (run := await self.queue.claim("w")) is not None:
            assert await self.queue.succeed(run) is not None


async def scheduling() -> Scheduling:
    s = Scheduling()
    await s.start()
    return s


def due_times(runs: Sequence[Run]) -> list[datetime | None]:
    return [run.scheduled_for for run in runs]


async def test_an_interval_queues_one_run_per_due_time_and_never_early() -> None:
    """Every 10 minutes from creation: nothing before a due time, one run at it, and a second
    pass at the same instant queues nothing more."""
    s = await scheduling()
    pipeline = await s.pipeline(EverySeconds(600))
    assert await s.tick(T0 + 599 * timedelta(seconds=1)) == []
    first = await s.tick(T0 + 600 * timedelta(seconds=1))
    assert due_times(first) == [T0 + 10 * MINUTE]
    assert (first[0].pipeline_id, first[0].trigger) == (pipeline, RunTrigger.SCHEDULE)
    assert (first[0].queued_at, first[0].status) == (T0 + 10 * MINUTE, RunStatus.QUEUED)
    assert await s.tick(T0 + 10 * MINUTE) == []
    await s.finish_all()
    assert await s.tick(T0 + 19 * MINUTE) == []
    assert due_times(await s.tick(T0 + 20 * MINUTE)) == [T0 + 20 * MINUTE]


async def test_frequent_passes_skip_no_due_time_and_double_none() -> None:
    """Passes every 7 s for an hour, runs finishing in between: a run for each of the 60
    due times of a one-minute interval, exactly once each."""
    s = await scheduling()
    await s.pipeline(EverySeconds(60))
    seen: list[datetime | None] = []
    for step in range(1, 3600 // 7 + 2):
        seen += due_times(await s.tick(T0 + step * timedelta(seconds=7)))
        await s.finish_all()
    assert seen == [T0 + n * MINUTE for n in range(1, 61)]


async def test_after_downtime_one_catch_up_run_then_the_schedule_goes_on() -> None:
    """Ten hours without a scheduler: one run for the latest due time, not six hundred, and
    the next one at the following due time."""
    s = await scheduling()
    await s.pipeline(EverySeconds(60))
    assert due_times(await s.tick(T0 + 10 * HOUR + 30 * timedelta(seconds=1))) == [T0 + 10 * HOUR]
    await s.finish_all()
    assert await s.tick(T0 + 10 * HOUR + 59 * timedelta(seconds=1)) == []
    assert due_times(await s.tick(T0 + 10 * HOUR + MINUTE)) == [T0 + 10 * HOUR + MINUTE]


async def test_a_cron_schedule_runs_at_its_times_and_catches_up_once() -> None:
    """Daily at 03:00 UTC: nothing at 02:59, one run at 03:00, and after five days down one
    run for the latest 03:00."""
    s = await scheduling()
    await s.pipeline(Cron("0 3 * * *"))
    assert await s.tick(T0 + 3 * HOUR - MINUTE) == []
    assert due_times(await s.tick(T0 + 3 * HOUR)) == [T0 + 3 * HOUR]
    await s.finish_all()
    assert await s.tick(T0 + DAY + 2 * HOUR) == []
    assert due_times(await s.tick(T0 + 6 * DAY + 12 * HOUR)) == [T0 + 6 * DAY + 3 * HOUR]
    await s.finish_all()
    assert await s.tick(T0 + 6 * DAY + 23 * HOUR) == []
    assert due_times(await s.tick(T0 + 7 * DAY + 3 * HOUR)) == [T0 + 7 * DAY + 3 * HOUR]


async def test_disabled_and_unscheduled_pipelines_are_not_scheduled() -> None:
    """A disabled pipeline gets no run however long it is due; neither does one without a
    schedule. Enabled again, it gets one run for the latest due time."""
    s = await scheduling()
    disabled = await s.pipeline(EverySeconds(60), "disabled", enabled=False)
    await s.pipeline(None, "manual only")
    for hours in (1, 2, 30):
        assert await s.tick(T0 + hours * HOUR) == []
    await s.update(s.owner, s.org, disabled, PipelineChanges(enabled=True))
    runs = await s.tick(T0 + 30 * HOUR + 30 * timedelta(seconds=1))
    assert [(r.pipeline_id, r.scheduled_for) for r in runs] == [(disabled, T0 + 30 * HOUR)]


async def test_a_due_time_is_passed_over_while_the_pipeline_has_an_active_run() -> None:
    """A manual run still queued at the due time: no second run, and the due time is not
    kept for later (no run the moment the manual one ends); the next due time gets one."""
    s = await scheduling()
    pipeline = await s.pipeline(EverySeconds(60))
    s.at(T0 + 30 * timedelta(seconds=1))
    manual = await s.trigger(s.owner, s.org, pipeline)
    assert await s.tick(T0 + MINUTE) == []
    claimed = await s.queue.claim("w")
    assert claimed is not None
    assert claimed.id == manual.id
    assert await s.tick(T0 + MINUTE + 10 * timedelta(seconds=1)) == []
    assert await s.queue.succeed(claimed) is not None
    assert await s.tick(T0 + MINUTE + 20 * timedelta(seconds=1)) == []
    assert due_times(await s.tick(T0 + 2 * MINUTE)) == [T0 + 2 * MINUTE]


async def test_a_new_schedule_counts_from_the_last_due_time() -> None:
    """Daily at 03:00, run at 03:00, then changed to hourly: the next run is at 04:00, not
    the next day at 03:00 as the old schedule said."""
    s = await scheduling()
    pipeline = await s.pipeline(Cron("0 3 * * *"))
    assert due_times(await s.tick(T0 + 3 * HOUR)) == [T0 + 3 * HOUR]
    await s.finish_all()
    s.at(T0 + 3 * HOUR + 10 * MINUTE)
    await s.update(s.owner, s.org, pipeline, PipelineChanges(schedule=EverySeconds(3600)))
    assert await s.tick(T0 + 4 * HOUR - MINUTE) == []
    assert due_times(await s.tick(T0 + 4 * HOUR)) == [T0 + 4 * HOUR]


async def test_a_pass_takes_at_most_limit_pipelines_and_the_rest_next_time() -> None:
    """Five due pipelines, two per pass: 2, 2, 1, then none; each queued once."""
    s = await scheduling()
    pipelines = {await s.pipeline(EverySeconds(60), f"p{n}") for n in range(5)}
    s.at(T0 + MINUTE)
    counts, queued = [], []
    for _ in range(4):
        runs = await s.scheduler.enqueue(limit=2)
        counts.append(len(runs))
        queued += [r.pipeline_id for r in runs]
    assert counts == [2, 2, 1, 0]
    assert sorted(queued) == sorted(pipelines)


def _walked(schedule: Schedule, since: datetime, now: datetime) -> datetime | None:
    """The oracle: every due time from ``since`` on, one by one."""
    latest, due = None, next_due(schedule, since)
    while due is not None and due <= now:
        latest, due = due, next_due(schedule, due)
    return latest


CRONS = ["*/5 * * * *", "0 3 * * *", "15 14 1 * *", "0 0 * * 1", "30 9 * * 1-5", "0 0 29 2 *"]


@settings(max_examples=100, deadline=None)
@example(schedule=Cron("30 9 * * 1-5"), since=0, span=4 * 86400 + 8 * 3600)  # over a weekend
@example(schedule=Cron("30 9 * * 1-5"), since=0, span=20 * 86400)
@given(
    schedule=st.one_of(
        st.builds(EverySeconds, st.integers(60, 7200)),
        st.builds(Cron, st.sampled_from(CRONS)),
    ),
    since=st.integers(0, 400 * 86400),
    span=st.integers(0, 10 * 86400),
)
def test_the_latest_due_time_is_the_one_walking_every_due_time_finds(
    schedule: Schedule, since: int, span: int
) -> None:
    """The shortcut past long downtimes finds the same latest due time as walking
    ``next_due`` from the start (phase of an interval kept, cron times exact)."""
    start = T0 + timedelta(seconds=since)
    now = start + timedelta(seconds=span)
    assert latest_due(schedule, start, now) == _walked(schedule, start, now)
