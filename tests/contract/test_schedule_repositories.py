"""One contract for what the scheduler needs from the pipeline and run repositories, on memory
and on PostgreSQL, and the scheduler racing itself on PostgreSQL."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from attrs import evolve

from tests.contract.stores import OnMemory, OnPostgres
from tests.contract.test_catalog_repositories import a_data_source, a_pipeline
from tests.contract.test_identity_repositories import ids
from tests.identity import T0, ManualClock
from thedata.application.ports import UnitOfWork
from thedata.application.use_cases import EnqueueDueRuns
from thedata.domain.organizations import Organization
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Pipeline
from thedata.domain.runs import Run, RunStatus, RunTrigger
from thedata.domain.schedules import Cron, EverySeconds, Schedule

LEASE = timedelta(seconds=30)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
EVERY_MINUTE = EverySeconds(60)


def a_scheduled_run(pipeline: Pipeline, due: datetime) -> Run:
    return Run.queued(
        ids.new_id(),
        pipeline.organization_id,
        pipeline.id,
        RunTrigger.SCHEDULE,
        due + SECOND,
        3,
        scheduled_for=due,
    )


class ScheduleContract(ABC):
    """What both adapters promise the scheduler: due pipelines, their last and next due
    times, and one run per pipeline and due time."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A unit of work on a store that has ``self.org``."""

    org: Organization

    async def a_pipeline_of(
        self,
        name: str = "nightly",
        schedule: Schedule | None = EVERY_MINUTE,
        enabled: bool = True,
    ) -> Pipeline:
        """A stored pipeline of ``self.org``, due every minute from T0 by default."""
        source = a_data_source(self.org.id, f"source-of-{name}")
        pipeline = evolve(
            a_pipeline(self.org.id, source.id, source.id, name), schedule=schedule, enabled=enabled
        )
        async with self.new_uow() as uow:
            await uow.data_sources.add(source)
            await uow.pipelines.add(pipeline)
            await uow.commit()
        return pipeline

    async def due(self, now: datetime, limit: int = 10) -> list[UUID]:
        async with self.new_uow() as uow:
            return [p.id for p in await uow.pipelines.due(now, limit)]

    async def record(
        self, pipeline: Pipeline, last: datetime | None, following: datetime | None
    ) -> None:
        async with self.new_uow() as uow:
            await uow.pipelines.record_scheduled(
                pipeline.organization_id, pipeline.id, last, following
            )
            await uow.commit()

    async def stored(self, pipeline: Pipeline) -> Pipeline:
        async with self.new_uow() as uow:
            found = await uow.pipelines.get(pipeline.organization_id, pipeline.id)
        assert found is not None
        return found

    async def add_scheduled(self, run: Run) -> bool:
        async with self.new_uow() as uow:
            added = await uow.runs.add_scheduled(run)
            await uow.commit()
        return added

    async def test_only_enabled_scheduled_pipelines_are_due(self) -> None:
        """A new pipeline with a schedule is due (its next due time is not known yet); a
        disabled one or one without a schedule never is."""
        scheduled = await self.a_pipeline_of("scheduled")
        await self.a_pipeline_of("disabled", enabled=False)
        await self.a_pipeline_of("manual", schedule=None)
        assert await self.due(T0) == [scheduled.id]

    async def test_a_pipeline_is_due_again_at_its_recorded_next_due_time(self) -> None:
        """After record_scheduled, due only from the next due time on (that instant
        included), and the last due time is on the pipeline."""
        pipeline = await self.a_pipeline_of()
        await self.record(pipeline, T0 + MINUTE, T0 + 2 * MINUTE)
        assert await self.due(T0 + 2 * MINUTE - SECOND) == []
        assert await self.due(T0 + 2 * MINUTE) == [pipeline.id]
        assert (await self.stored(pipeline)).last_scheduled_for == T0 + MINUTE

    async def test_a_schedule_that_never_fires_again_is_never_due(self) -> None:
        """A next due time of None is 'never', not 'unknown'."""
        pipeline = await self.a_pipeline_of()
        await self.record(pipeline, None, None)
        assert await self.due(datetime(9000, 1, 1, tzinfo=T0.tzinfo)) == []
        assert (await self.stored(pipeline)).last_scheduled_for is None

    async def test_the_last_due_time_never_moves_back(self) -> None:
        """An older last due time, or None, leaves the stored one as it is."""
        pipeline = await self.a_pipeline_of()
        await self.record(pipeline, T0 + 5 * MINUTE, T0 + 6 * MINUTE)
        await self.record(pipeline, T0 + MINUTE, T0 + 6 * MINUTE)
        await self.record(pipeline, None, T0 + 6 * MINUTE)
        assert (await self.stored(pipeline)).last_scheduled_for == T0 + 5 * MINUTE

    async def test_a_new_schedule_is_due_at_once_and_other_edits_keep_the_next_due_time(
        self,
    ) -> None:
        """Changing the schedule forgets the next due time (the scheduler computes it
        again); renaming keeps it; no update changes the last due time."""
        pipeline = await self.a_pipeline_of()
        await self.record(pipeline, T0 + MINUTE, T0 + 2 * MINUTE)
        stored = await self.stored(pipeline)
        async with self.new_uow() as uow:
            await uow.pipelines.update(evolve(stored, name="renamed", last_scheduled_for=None))
            await uow.commit()
        assert await self.due(T0 + MINUTE) == []
        async with self.new_uow() as uow:
            forged = evolve(stored, schedule=Cron("0 3 * * *"), last_scheduled_for=T0)
            await uow.pipelines.update(forged)
            await uow.commit()
        assert await self.due(T0 + MINUTE) == [pipeline.id]
        assert (await self.stored(pipeline)).last_scheduled_for == T0 + MINUTE

    async def test_due_pipelines_come_longest_due_first_up_to_the_limit(self) -> None:
        """Unknown next due times first, then the oldest next due time; at most ``limit``."""
        late, early, new = (
            await self.a_pipeline_of("late"),
            await self.a_pipeline_of("early"),
            await self.a_pipeline_of("new"),
        )
        await self.record(late, None, T0 + 3 * MINUTE)
        await self.record(early, None, T0 + MINUTE)
        assert await self.due(T0 + 5 * MINUTE) == [new.id, early.id, late.id]
        assert await self.due(T0 + 5 * MINUTE, limit=2) == [new.id, early.id]
        assert await self.due(T0 + 2 * MINUTE) == [new.id, early.id]

    async def test_one_run_per_pipeline_and_due_time(self) -> None:
        """A scheduled run round-trips with its due time; a second run for that due time is
        refused even after the first finished; another due time is queued."""
        pipeline = await self.a_pipeline_of()
        run = a_scheduled_run(pipeline, T0 + MINUTE)
        assert await self.add_scheduled(run)
        async with self.new_uow() as uow:
            assert await uow.runs.get(self.org.id, run.id) == run
            claimed = run.claim("w", T0 + MINUTE, LEASE, 1)
            assert await uow.runs.save(claimed, attempt=0, status=RunStatus.QUEUED)
            assert await uow.runs.save(
                claimed.succeeded(T0 + MINUTE), attempt=1, status=RunStatus.RUNNING
            )
            await uow.commit()
        again = a_scheduled_run(pipeline, T0 + MINUTE)
        assert not await self.add_scheduled(again)
        later = a_scheduled_run(pipeline, T0 + 2 * MINUTE)
        assert await self.add_scheduled(later)
        async with self.new_uow() as uow:
            assert await uow.runs.get(self.org.id, again.id) is None
            assert await uow.runs.get(self.org.id, later.id) == later

    async def test_a_scheduled_run_is_refused_while_another_run_is_active(self) -> None:
        """A queued manual run makes add_scheduled answer False, storing nothing, and the
        unit of work stays usable."""
        pipeline = await self.a_pipeline_of()
        other = await self.a_pipeline_of("other")
        manual = Run.queued(ids.new_id(), self.org.id, pipeline.id, RunTrigger.MANUAL, T0, 3)
        elsewhere = a_scheduled_run(other, T0 + MINUTE)
        async with self.new_uow() as uow:
            await uow.runs.add(manual)
            assert not await uow.runs.add_scheduled(a_scheduled_run(pipeline, T0 + MINUTE))
            assert await uow.runs.add_scheduled(elsewhere)
            await uow.commit()
        async with self.new_uow() as uow:
            page = await uow.runs.list(self.org.id, PageRequest())
        assert sorted(r.id for r in page.items) == sorted([manual.id, elsewhere.id])


class TestInMemorySchedules(OnMemory, ScheduleContract):
    """The contract on the in-memory store."""


@pytest.mark.postgres
class TestPostgresSchedules(OnPostgres, ScheduleContract):
    """The contract on a real, migrated PostgreSQL database, and schedulers racing on it."""

    pool_size = 12

    async def test_a_pipeline_one_scheduler_holds_is_skipped_and_then_not_due(self) -> None:
        """A second scheduler skips, without waiting, the pipelines an open one holds; once
        the first moved the next due time on and committed, they are not due any more."""
        pipeline = await self.a_pipeline_of()
        async with self.new_uow() as first:
            assert [p.id for p in await first.pipelines.due(T0 + MINUTE, 10)] == [pipeline.id]
            assert await asyncio.wait_for(self.due(T0 + MINUTE), 2) == []
            await first.pipelines.record_scheduled(
                self.org.id, pipeline.id, T0 + MINUTE, T0 + 2 * MINUTE
            )
            await first.commit()
        assert await self.due(T0 + MINUTE) == []

    async def test_a_trigger_does_not_deadlock_with_a_scheduler_holding_its_pipeline(
        self,
    ) -> None:
        """A manual trigger inserts while a scheduler holds the pipeline (the run's foreign
        key does not wait for the scheduler's lock); the scheduler's run then waits for the
        trigger and is refused once it commits."""
        pipeline = await self.a_pipeline_of()
        manual = Run.queued(ids.new_id(), self.org.id, pipeline.id, RunTrigger.MANUAL, T0, 3)
        async with self.new_uow() as scheduler, self.new_uow() as trigger:
            assert len(await scheduler.pipelines.due(T0 + MINUTE, 10)) == 1
            await asyncio.wait_for(trigger.runs.add(manual), 2)
            waiting = asyncio.create_task(
                scheduler.runs.add_scheduled(a_scheduled_run(pipeline, T0 + MINUTE))
            )
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await trigger.commit()
            assert not await asyncio.wait_for(waiting, 2)
            await scheduler.commit()
        async with self.new_uow() as uow:
            page = await uow.runs.list(self.org.id, PageRequest())
        assert [r.id for r in page.items] == [manual.id]

    async def test_racing_schedulers_queue_each_due_run_exactly_once(self) -> None:
        """Eight schedulers pass at once over 30 pipelines while a worker finishes the runs
        as they come (so the one-active-run rule cannot hide a double), at three instants,
        the last after a downtime: each pipeline gets one run per due time, for exactly the
        due times an every-minute schedule has, the downtime's as one catch-up run."""
        pipelines = [await self.a_pipeline_of(f"p{n}") for n in range(30)]
        clock = ManualClock()
        schedulers = [EnqueueDueRuns(self.new_uow, clock, ids, 3) for _ in range(8)]
        queued: list[Run] = []
        for now in (T0 + MINUTE, T0 + 2 * MINUTE + 5 * SECOND, T0 + 10 * MINUTE + 30 * SECOND):
            clock.current = now
            start, done = asyncio.Event(), asyncio.Event()

            async def scheduler(s: EnqueueDueRuns, start: asyncio.Event = start) -> None:
                await start.wait()
                for _ in range(5):  # small batches, passes over and over: they interleave
                    queued.extend(await s.enqueue(limit=4))

            async def worker(now: datetime = now, done: asyncio.Event = done) -> None:
                while not done.is_set():
                    await self.finish_every_run(now)
                    await asyncio.sleep(0)

            finishing = asyncio.create_task(worker())
            tasks = [asyncio.create_task(scheduler(s)) for s in schedulers]
            await asyncio.sleep(0.05)
            start.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            done.set()
            await finishing
            await self.finish_every_run(now)
        dues = (T0 + MINUTE, T0 + 2 * MINUTE, T0 + 10 * MINUTE)
        expected = sorted((p.id, due) for p in pipelines for due in dues)
        assert sorted((r.pipeline_id, r.scheduled_for) for r in queued) == expected
        async with self.new_uow() as uow:
            stored = await uow.runs.list(self.org.id, PageRequest(200))
        assert sorted((r.pipeline_id, r.scheduled_for) for r in stored.items) == expected

    async def finish_every_run(self, now: datetime) -> None:
        """Every claimable run is claimed and succeeds, one unit of work each."""
        while True:
            async with self.new_uow() as uow:
                run = await uow.runs.next_claimable(now)
                if run is None:
                    return
                claimed = run.claim("w", now, LEASE, 1)
                assert await uow.runs.save(claimed, attempt=0, status=RunStatus.QUEUED)
                done = claimed.succeeded(now)
                assert await uow.runs.save(done, attempt=1, status=RunStatus.RUNNING)
                await uow.commit()
