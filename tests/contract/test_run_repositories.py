"""One contract for the run queue's repository, on memory and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from attrs import evolve

from tests.contract.stores import OnMemory, OnPostgres
from tests.contract.test_catalog_repositories import a_data_source, a_pipeline
from tests.contract.test_identity_repositories import an_organization, ids
from tests.identity import T0
from thedata.application.errors import ReferenceConflict
from thedata.application.ports import RunBacklog, StoredResponse, UnitOfWork
from thedata.domain.organizations import Organization
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Pipeline
from thedata.domain.runs import (
    AttemptOutcome,
    Backoff,
    Run,
    RunAlreadyActive,
    RunError,
    RunStatus,
    RunTrigger,
    StreamStats,
)

LEASE = timedelta(seconds=30)
SECOND = timedelta(seconds=1)


def a_run(pipeline: Pipeline, at: datetime = T0, trigger: RunTrigger = RunTrigger.MANUAL) -> Run:
    return Run.queued(ids.new_id(), pipeline.organization_id, pipeline.id, trigger, at, 3)


class RunRepositoryContract(ABC):
    """What both adapters promise about runs: the API's view and the workers' queue."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A unit of work on a store that has ``self.org``."""

    org: Organization

    async def a_pipeline_of(self, org: Organization, name: str = "nightly") -> Pipeline:
        """A stored pipeline of ``org`` (with a data source of its own as both ends)."""
        source = a_data_source(org.id, f"source-of-{name}")
        pipeline = a_pipeline(org.id, source.id, source.id, name)
        async with self.new_uow() as uow:
            await uow.data_sources.add(source)
            await uow.pipelines.add(pipeline)
            await uow.commit()
        return pipeline

    async def given(self, *runs: Run) -> None:
        async with self.new_uow() as uow:
            for run in runs:
                await uow.runs.add(run)
            await uow.commit()

    async def stored(self, run: Run) -> Run | None:
        async with self.new_uow() as uow:
            return await uow.runs.get(run.organization_id, run.id)

    async def changed(self, before: Run, after: Run) -> bool:
        """``after`` saved over ``before`` (compare-and-set on what ``before`` says)."""
        async with self.new_uow() as uow:
            saved = await uow.runs.save(after, attempt=before.attempt, status=before.status)
            await uow.commit()
        return saved

    async def finished(self, run: Run, at: datetime = T0) -> Run:
        """``run`` (stored and queued) claimed and succeeded, as stored."""
        claimed = run.claim("w", at, LEASE, 1)
        done = claimed.succeeded(at + SECOND)
        assert await self.changed(run, claimed)
        assert await self.changed(claimed, done)
        return done

    @pytest.fixture
    async def pipeline(self) -> Pipeline:
        return await self.a_pipeline_of(self.org)

    async def test_purging_takes_finished_runs_before_the_date_only(
        self, pipeline: Pipeline
    ) -> None:
        """Housekeeping: runs finished before the date go, in batches of ``limit``; a run
        finished later, and an active one, stay."""

        async def done(at: datetime) -> Run:
            run = a_run(pipeline, at)
            await self.given(run)  # one at a time: one active run per pipeline
            return await self.finished(run, at)

        old = [await done(T0 + n * SECOND) for n in range(3)]
        recent = await done(T0 + 100 * SECOND)
        active = a_run(pipeline, T0 + 200 * SECOND)
        await self.given(active)
        cutoff = T0 + 50 * SECOND
        async with self.new_uow() as uow:
            assert await uow.runs.purge_finished(cutoff, 2) == 2
            assert await uow.runs.purge_finished(cutoff, 2) == 1
            assert await uow.runs.purge_finished(cutoff, 2) == 0
            await uow.commit()
        assert [await self.stored(run) for run in old] == [None, None, None]
        assert await self.stored(recent) == recent
        assert await self.stored(active) == active

    async def test_expired_idempotency_records_are_purged_and_live_ones_kept(self) -> None:
        expires = T0 + 10 * SECOND
        async with self.new_uow() as uow:
            for n in range(3):
                claimed = await uow.idempotency.claim("s", f"k{n}", "f", T0, expires + n * SECOND)
                assert claimed is None
                await uow.idempotency.save("s", f"k{n}", StoredResponse(201, b"{}"))
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.idempotency.purge_expired(expires + SECOND, 10) == 2
            await uow.commit()
        async with self.new_uow() as uow:
            kept = await uow.idempotency.claim("s", "k2", "other", T0, expires)
            assert kept == ("f", StoredResponse(201, b"{}"))  # still live: a replay

    async def test_the_store_tells_one_time_that_never_goes_back(self) -> None:
        """``now`` is the store's clock, UTC and timezone-aware, and a later unit of work
        never sees an earlier time: what leases are measured with on every host."""
        seen = []
        for _ in range(3):
            async with self.new_uow() as uow:
                seen.append(await uow.runs.now())
        assert all(t.utcoffset() == timedelta(0) for t in seen)
        assert seen == sorted(seen)

    async def test_a_queued_run_round_trips(self, pipeline: Pipeline) -> None:
        """What add stored, get gives back whole."""
        run = a_run(pipeline, trigger=RunTrigger.SCHEDULE)
        await self.given(run)
        assert await self.stored(run) == run

    async def test_the_trace_of_the_request_that_queued_a_run_is_kept(
        self, pipeline: Pipeline
    ) -> None:
        """A worker's span of each attempt links to it, through every change of the run."""
        traced = evolve(a_run(pipeline), trace_parent=f"00-{'ab' * 16}-{'cd' * 8}-01")
        await self.given(traced)
        claimed = traced.claim("w", T0, LEASE, 1)
        assert await self.changed(traced, claimed)
        assert (await self.stored(traced)) == claimed
        assert claimed.trace_parent == traced.trace_parent

    async def test_every_field_a_worker_changes_round_trips(self, pipeline: Pipeline) -> None:
        """Claim, progress with estimates, a retryable failure: every field comes back."""
        run = a_run(pipeline)
        await self.given(run)
        claimed = run.claim("worker-7", T0 + SECOND, LEASE, 41)
        busy = claimed.progressed("orders", StreamStats(10, 8, 1000)).progressed(
            "customers", StreamStats(3, 3)
        )
        assert await self.changed(run, claimed)
        assert await self.changed(claimed, busy)
        assert await self.stored(run) == busy
        error = RunError("source_unreachable", "connection refused", retryable=True)
        requeued = busy.failed(T0 + 2 * SECOND, error, Backoff())
        assert requeued.status is RunStatus.QUEUED
        assert requeued.not_before is not None
        assert await self.changed(busy, requeued)
        assert await self.stored(run) == requeued
        assert [a.outcome for a in requeued.attempts] == [AttemptOutcome.FAILED]
        again = requeued.claim("worker-8", T0 + 9 * SECOND, LEASE, 42)
        handed = again.progressed("orders", StreamStats(1, 1)).handed_back(T0 + 10 * SECOND)
        assert await self.changed(requeued, again)
        assert await self.changed(again, handed)
        assert await self.stored(run) == handed  # the history, each attempt's figures too
        requeued = handed
        assert await self.changed(requeued, requeued.cancel(T0 + 3 * SECOND))
        stored = await self.stored(run)
        assert stored is not None
        assert (stored.status, stored.finished_at) == (RunStatus.CANCELLED, T0 + 3 * SECOND)

    async def test_save_keeps_what_never_changes(self, pipeline: Pipeline) -> None:
        """A saved run cannot move to another pipeline or rewrite its trigger and queue time."""
        run = a_run(pipeline)
        await self.given(run)
        other = await self.a_pipeline_of(self.org, "other")
        claimed = run.claim("w", T0, LEASE, 1)
        forged = evolve(
            claimed, pipeline_id=other.id, trigger=RunTrigger.RETRY, queued_at=T0 + LEASE
        )
        assert await self.changed(run, forged)
        assert await self.stored(run) == claimed

    async def test_another_organizations_run_is_invisible(self, pipeline: Pipeline) -> None:
        """get of another organization's run is None; lists show only the organization's own."""
        other_org = an_organization("other")
        async with self.new_uow() as uow:
            await uow.organizations.add(other_org)
            await uow.commit()
        theirs = a_run(await self.a_pipeline_of(other_org))
        mine = a_run(pipeline)
        await self.given(theirs, mine)
        async with self.new_uow() as uow:
            assert await uow.runs.get(self.org.id, theirs.id) is None
            assert await uow.runs.get(other_org.id, mine.id) is None
            assert await uow.runs.get(other_org.id, theirs.id) == theirs
            page = await uow.runs.list(self.org.id, PageRequest())
            assert [r.id for r in page.items] == [mine.id]
            stolen = evolve(theirs.claim("w", T0, LEASE, 1), organization_id=self.org.id)
            assert not await uow.runs.save(stolen, attempt=0, status=RunStatus.QUEUED)
            assert (
                await uow.runs.list(self.org.id, PageRequest(), pipeline_id=theirs.pipeline_id)
            ).items == []

    async def test_runs_are_listed_newest_first_in_pages(self, pipeline: Pipeline) -> None:
        """Five runs in pages of two, newest first, and a run added meanwhile shifts nothing."""
        runs = []
        for n in range(5):
            run = a_run(pipeline, T0 + n * SECOND)
            await self.given(run)
            runs.append(await self.finished(run, T0 + n * SECOND))
        seen: list[UUID] = []
        after = None
        async with self.new_uow() as uow:
            page = await uow.runs.list(self.org.id, PageRequest(2))
        seen += [r.id for r in page.items]
        after = page.next_after
        newer = a_run(await self.a_pipeline_of(self.org, "other"), T0 + 10 * SECOND)
        await self.given(newer)
        async with self.new_uow() as uow:
            for _ in range(2):
                page = await uow.runs.list(self.org.id, PageRequest(2, after))
                seen += [r.id for r in page.items]
                after = page.next_after
            first = await uow.runs.list(self.org.id, PageRequest(1))
        assert seen == [r.id for r in reversed(runs)]
        assert after is None
        assert [r.id for r in first.items] == [newer.id]
        assert first.items[0] == newer
        assert page.items[-1] == runs[0]

    async def test_lists_filter_by_pipeline_and_status(self, pipeline: Pipeline) -> None:
        """?status= and a pipeline's runs: only the matching runs, still newest first."""
        other = await self.a_pipeline_of(self.org, "other")
        old = a_run(pipeline, T0)
        await self.given(old)
        old_done = await self.finished(old)
        queued_here, queued_there = a_run(pipeline, T0 + SECOND), a_run(other, T0 + SECOND)
        await self.given(queued_here, queued_there)
        async with self.new_uow() as uow:

            async def listed(pipeline_id: UUID | None, status: RunStatus | None) -> list[UUID]:
                page = await uow.runs.list(
                    self.org.id, PageRequest(), pipeline_id=pipeline_id, status=status
                )
                return [r.id for r in page.items]

            assert await listed(pipeline.id, None) == [queued_here.id, old_done.id]
            assert await listed(None, RunStatus.QUEUED) == [queued_there.id, queued_here.id]
            assert await listed(None, RunStatus.SUCCEEDED) == [old.id]
            assert await listed(other.id, RunStatus.QUEUED) == [queued_there.id]
            assert await listed(other.id, RunStatus.SUCCEEDED) == []

    async def test_a_second_active_run_of_a_pipeline_is_refused(self, pipeline: Pipeline) -> None:
        """While one run is queued or running, another is RunAlreadyActive; once it finished,
        a new one is queued; other pipelines are not held up."""
        first = a_run(pipeline)
        await self.given(first)
        async with self.new_uow() as uow:
            with pytest.raises(RunAlreadyActive):
                await uow.runs.add(a_run(pipeline))
        claimed = first.claim("w", T0, LEASE, 1)
        assert await self.changed(first, claimed)
        async with self.new_uow() as uow:
            with pytest.raises(RunAlreadyActive):
                await uow.runs.add(a_run(pipeline, trigger=RunTrigger.SCHEDULE))
        assert await self.changed(claimed, claimed.succeeded(T0 + SECOND))
        second = a_run(pipeline, T0 + 2 * SECOND)
        await self.given(second)
        assert await self.stored(second) == second

    async def test_the_unit_of_work_stays_usable_after_a_refused_run(
        self, pipeline: Pipeline
    ) -> None:
        """A trigger refused as RunAlreadyActive can still write (its idempotent answer, say)
        and commit in the same unit of work."""
        await self.given(a_run(pipeline))
        other = await self.a_pipeline_of(self.org, "other")
        elsewhere = a_run(other)
        async with self.new_uow() as uow:
            with pytest.raises(RunAlreadyActive):
                await uow.runs.add(a_run(pipeline))
            await uow.runs.add(elsewhere)
            await uow.commit()
        assert await self.stored(elsewhere) == elsewhere

    async def test_a_run_of_a_missing_pipeline_is_refused(self) -> None:
        """A pipeline deleted meanwhile (or never there): ReferenceConflict, nothing stored."""
        ghost = a_pipeline(self.org.id, ids.new_id(), ids.new_id(), "ghost")
        async with self.new_uow() as uow:
            with pytest.raises(ReferenceConflict):
                await uow.runs.add(a_run(ghost))

    async def test_deleting_a_pipeline_or_its_organization_deletes_its_runs(
        self, pipeline: Pipeline
    ) -> None:
        """Runs go with their pipeline, and with their organization."""
        other = await self.a_pipeline_of(self.org, "other")
        gone, kept = a_run(pipeline), a_run(other)
        await self.given(gone, kept)
        async with self.new_uow() as uow:
            await uow.pipelines.delete(self.org.id, pipeline.id)
            await uow.commit()
        assert await self.stored(gone) is None
        assert await self.stored(kept) == kept
        async with self.new_uow() as uow:
            await uow.organizations.delete(self.org.id)
            await uow.commit()
        assert await self.stored(kept) is None
        async with self.new_uow() as uow:
            assert await uow.runs.next_claimable(T0 + LEASE) is None

    async def test_the_oldest_claimable_run_comes_next(self) -> None:
        """Queue order is queued_at; a run waiting for its not_before, or running, is passed
        over; nothing claimable is None."""
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(4)]
        # added out of queue order, so that neither insertion nor id order can pass for it
        late, early, waiting, held = (
            a_run(pipelines[0], T0 + 3 * SECOND),
            a_run(pipelines[1], T0 + 2 * SECOND),
            a_run(pipelines[2], T0),
            a_run(pipelines[3], T0 - SECOND),
        )
        await self.given(late, early, waiting, held)
        assert await self.changed(held, held.claim("w", T0, LEASE, 1))
        retried = evolve(waiting, not_before=T0 + 10 * SECOND)
        async with self.new_uow() as uow:
            assert await uow.runs.save(retried, attempt=0, status=RunStatus.QUEUED)
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.runs.next_claimable(T0 + 5 * SECOND) == early
        assert await self.changed(early, early.claim("w", T0 + 5 * SECOND, LEASE, 1))
        async with self.new_uow() as uow:
            assert await uow.runs.next_claimable(T0 + 5 * SECOND) == late
            # not_before itself is claimable: "not before", not "after"
            assert await uow.runs.next_claimable(T0 + 10 * SECOND) == retried
        assert await self.changed(late, late.claim("w", T0 + 5 * SECOND, LEASE, 1))
        async with self.new_uow() as uow:
            assert await uow.runs.next_claimable(T0 + 9 * SECOND) is None
            assert await uow.runs.next_claimable(T0 + 10 * SECOND) == retried

    async def test_expired_gives_running_runs_whose_lease_ended(self) -> None:
        """Running runs whose lease ended before now, the longest expired first, at most
        ``limit``; a lease ending exactly now, a queued or a finished run is not expired."""
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(5)]
        runs = [a_run(p) for p in pipelines]
        await self.given(*runs)
        claimed = [r.claim("w", T0 + n * SECOND, LEASE, 1) for n, r in enumerate(runs)]
        for run, claim in zip(runs[:4], claimed[:4], strict=True):
            assert await self.changed(run, claim)
        assert await self.changed(claimed[3], claimed[3].succeeded(T0 + 4 * SECOND))
        # leases end at T0+30s, +31s, +32s (and the finished one's is gone); runs[4] is queued
        now = T0 + LEASE + 2 * SECOND
        async with self.new_uow() as uow:
            assert await uow.runs.expired(now, 10) == claimed[:2]
            assert await uow.runs.expired(now, 1) == claimed[:1]
            assert await uow.runs.expired(T0 + LEASE, 10) == []

    async def test_the_backlog_counts_queued_runs_and_the_oldest_one_of_any_organization(
        self,
    ) -> None:
        """Queued runs only (a running or finished one is not waiting), across organizations."""
        async with self.new_uow() as uow:
            assert await uow.runs.backlog(T0) == RunBacklog(0, None)
        other = an_organization("elsewhere")
        async with self.new_uow() as uow:
            await uow.organizations.add(other)
            await uow.commit()
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(3)]
        pipelines.append(await self.a_pipeline_of(other, "theirs"))
        runs = [
            a_run(pipelines[0], T0 + 2 * SECOND),
            a_run(pipelines[1], T0 + 5 * SECOND),
            a_run(pipelines[2], T0 - 9 * SECOND),
            a_run(pipelines[3], T0 + SECOND),
        ]
        await self.given(*runs)
        assert await self.changed(runs[2], runs[2].claim("w", T0, LEASE, 1))
        async with self.new_uow() as uow:
            assert await uow.runs.backlog(T0 + 10 * SECOND) == RunBacklog(3, T0 + SECOND)
        # a run queued again after running waits since then, not since its first queuing;
        # one waiting out a backoff does not wait for a worker yet
        claimed = runs[3].claim("w", T0 + 2 * SECOND, LEASE, 1)
        assert await self.changed(runs[3], claimed)
        back = claimed.handed_back(T0 + 20 * SECOND)
        assert await self.changed(claimed, back)
        later = evolve(runs[0], not_before=T0 + 60 * SECOND)
        async with self.new_uow() as uow:
            assert await uow.runs.save(later, attempt=0, status=RunStatus.QUEUED)
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.runs.backlog(T0 + 30 * SECOND) == RunBacklog(3, T0 + 5 * SECOND)
            assert await uow.runs.backlog(T0 + 90 * SECOND) == RunBacklog(3, T0 + 5 * SECOND)

    async def test_a_run_is_found_by_its_id_alone_in_any_organization(self) -> None:
        """Operators' tools find a run of any organization by its id; an unknown id is None."""
        other = an_organization("elsewhere")
        async with self.new_uow() as uow:
            await uow.organizations.add(other)
            await uow.commit()
        theirs = a_run(await self.a_pipeline_of(other, "theirs"))
        ours = a_run(await self.a_pipeline_of(self.org))
        await self.given(theirs, ours)
        async with self.new_uow() as uow:
            assert await uow.runs.find_in_any_organization(theirs.id) == theirs
            assert await uow.runs.find_in_any_organization(ours.id) == ours
            assert await uow.runs.find_in_any_organization(ids.new_id()) is None

    async def stuck_scene(self) -> tuple[list[Run], datetime]:
        """Six runs of two organizations, at ``now``: running with a lease that ended (two),
        running with a live lease, queued and claimable since long, queued waiting out a
        backoff, and finished."""
        other = an_organization("elsewhere")
        async with self.new_uow() as uow:
            await uow.organizations.add(other)
            await uow.commit()
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(5)]
        pipelines.append(await self.a_pipeline_of(other, "theirs"))
        # queued out of id order, so that neither insertion nor id order passes for queue order
        queued_at = [T0 + 4 * SECOND, T0, T0 + 2 * SECOND, T0 + SECOND, T0 + 3 * SECOND, T0]
        runs = [a_run(p, at) for p, at in zip(pipelines, queued_at, strict=True)]
        await self.given(*runs)
        now = T0 + 10 * 60 * SECOND
        dead = runs[0].claim("w", T0 + 5 * SECOND, LEASE, 1)  # lease ended long ago
        live = runs[1].claim("w", now - SECOND, LEASE, 1)
        theirs_dead = runs[5].claim("w", T0 + 6 * SECOND, LEASE, 1)
        done = runs[4].claim("w", T0 + 5 * SECOND, LEASE, 1)
        for before, after in ((runs[0], dead), (runs[1], live), (runs[5], theirs_dead)):
            assert await self.changed(before, after)
        assert await self.changed(runs[4], done)
        assert await self.changed(done, done.succeeded(T0 + 7 * SECOND))
        backing_off = evolve(runs[3], not_before=now + 60 * SECOND)
        async with self.new_uow() as uow:
            assert await uow.runs.save(backing_off, attempt=0, status=RunStatus.QUEUED)
            await uow.commit()
        return [dead, live, runs[2], backing_off, done, theirs_dead], now

    async def test_active_runs_are_queued_and_running_ones_of_every_organization(self) -> None:
        """Queued longest first, at most ``limit``; a finished run is not active."""
        runs, _ = await self.stuck_scene()
        dead, live, waiting, backing_off, _, theirs_dead = runs
        async with self.new_uow() as uow:
            active = await uow.runs.active(10)
            assert [r.id for r in active] == [
                r.id for r in (live, theirs_dead, backing_off, waiting, dead)
            ]
            assert active[0] == live
            assert [r.id for r in await uow.runs.active(2)] == [live.id, theirs_dead.id]

    async def test_stuck_runs_are_expired_leases_and_long_waits_of_every_organization(
        self,
    ) -> None:
        """Running runs whose lease ended before the first bound and queued runs claimable
        since before the second, queued longest first; a live lease, a backoff not over, a
        finished run are not stuck; the bounds are strict."""
        runs, now = await self.stuck_scene()
        dead, _, waiting, _, _, theirs_dead = runs
        async with self.new_uow() as uow:
            assert await uow.runs.stuck(now, now, 10) == [theirs_dead, waiting, dead]
            assert await uow.runs.stuck(now, now, 1) == [theirs_dead]
            # the bounds: dead's lease ended at T0+35s, theirs at T0+36s; waiting is
            # claimable since T0+2s
            assert await uow.runs.stuck(T0 + 35 * SECOND, T0 + 2 * SECOND, 10) == []
            assert await uow.runs.stuck(T0 + 36 * SECOND, T0 + 3 * SECOND, 10) == [waiting, dead]

    async def test_save_refuses_a_stale_attempt_or_status(self, pipeline: Pipeline) -> None:
        """A worker whose attempt was taken over (reaped, claimed again) stores nothing."""
        run = a_run(pipeline)
        await self.given(run)
        first = run.claim("zombie", T0, LEASE, 1)
        assert await self.changed(run, first)
        reaped = first.lease_lost(T0 + LEASE + SECOND, Backoff(first=SECOND))
        assert await self.changed(first, reaped)
        # the zombie still believes it holds attempt 1, running
        assert not await self.changed(first, first.succeeded(T0 + LEASE + 2 * SECOND))
        second = reaped.claim("heir", T0 + LEASE + 3 * SECOND, LEASE, 2)
        assert await self.changed(reaped, second)
        assert not await self.changed(first, first.renew(T0 + LEASE + 4 * SECOND, LEASE))
        # right status, wrong attempt; right attempt, wrong status
        late = second.succeeded(T0 + LEASE + 5 * SECOND)
        assert not await self.changed(first, late)
        assert not await self.changed(evolve(second, status=RunStatus.QUEUED), late)
        assert await self.stored(run) == second
        assert await self.changed(second, late)
        assert await self.stored(run) == late

    async def test_a_workers_save_does_not_undo_a_cancel_request(self, pipeline: Pipeline) -> None:
        """Progress saved from a copy read before the cancel request keeps the request."""
        run = a_run(pipeline)
        await self.given(run)
        claimed = run.claim("w", T0, LEASE, 1)
        assert await self.changed(run, claimed)
        assert await self.changed(claimed, claimed.cancel(T0 + SECOND))
        progress = claimed.progressed("orders", StreamStats(5, 5))
        assert await self.changed(claimed, progress)
        assert await self.stored(run) == evolve(progress, cancel_requested=True)

    async def test_save_of_an_unknown_run_stores_nothing(self, pipeline: Pipeline) -> None:
        """A run that was never added (or was deleted) is not created by save."""
        run = a_run(pipeline)
        assert not await self.changed(run, run.claim("w", T0, LEASE, 1))
        assert await self.stored(run) is None

    async def test_a_locked_read_returns_the_run(self, pipeline: Pipeline) -> None:
        """get(lock=True) reads like get."""
        run = a_run(pipeline)
        await self.given(run)
        async with self.new_uow() as uow:
            assert await uow.runs.get(self.org.id, run.id, lock=True) == run


class TestInMemoryRuns(OnMemory, RunRepositoryContract):
    """The contract on the in-memory store."""


@pytest.mark.postgres
class TestPostgresRuns(OnPostgres, RunRepositoryContract):
    """The contract on a real, migrated PostgreSQL database, and its real concurrency."""

    pool_size = 10

    async def test_an_attempt_a_newer_version_wrote_is_left_out_not_a_failure(
        self, pipeline: Pipeline
    ) -> None:
        """During a rolling upgrade a newer worker may store an outcome this version does not
        know: the run still reads (that attempt left out), rather than failing every GET."""
        run = a_run(pipeline)
        ended = run.claim("w", T0, LEASE, 1).handed_back(T0 + SECOND)
        await self.given(ended)
        async with self.new_uow() as uow:
            await uow.connection.execute(  # type: ignore[attr-defined]
                "UPDATE runs SET attempts = attempts || %s::jsonb WHERE id = %s",
                ('[{"number": 1, "outcome": "paused_by_a_newer_version"}]', run.id),
            )
            await uow.commit()
        async with self.new_uow() as uow:
            stored = await uow.runs.get(self.org.id, run.id)
        assert stored is not None
        assert stored.attempts == ended.attempts

    async def test_fields_a_newer_version_added_to_stored_figures_are_ignored(
        self, pipeline: Pipeline
    ) -> None:
        """A newer worker may store more per stream or per attempt (say bytes moved): this
        version reads the run with the figures it knows."""
        run = a_run(pipeline)
        ended = run.claim("w", T0, LEASE, 1).handed_back(T0 + SECOND)
        await self.given(ended)
        extra = {"orders": {"rows_read": 7, "rows_written": 6, "bytes_read": 512}}
        attempt = {
            "number": 1,
            "worker_id": "w",
            "started_at": T0.isoformat(),
            "ended_at": (T0 + SECOND).isoformat(),
            "outcome": "failed",
            "error": {"type": "X", "message": "m", "retryable": True, "hint": "new"},
            "streams": extra,
            "host_load": 0.5,
        }
        async with self.new_uow() as uow:
            await uow.connection.execute(  # type: ignore[attr-defined]
                "UPDATE runs SET streams = %s::jsonb, attempts = %s::jsonb WHERE id = %s",
                (json.dumps(extra), json.dumps([attempt]), run.id),
            )
            await uow.commit()
        async with self.new_uow() as uow:
            stored = await uow.runs.get(self.org.id, run.id)
        assert stored is not None
        assert stored.streams == {"orders": StreamStats(7, 6)}
        assert [(a.outcome, a.error, a.streams) for a in stored.attempts] == [
            (AttemptOutcome.FAILED, RunError("X", "m", True), {"orders": StreamStats(7, 6)})
        ]

    async def test_open_units_of_work_never_get_the_same_run(self) -> None:
        """next_claimable skips a run another open unit of work holds, without waiting."""
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(2)]
        older, newer = a_run(pipelines[0], T0), a_run(pipelines[1], T0 + SECOND)
        await self.given(older, newer)
        async with self.new_uow() as a, self.new_uow() as b, self.new_uow() as c:
            assert await a.runs.next_claimable(T0 + LEASE) == older
            assert await asyncio.wait_for(b.runs.next_claimable(T0 + LEASE), 2) == newer
            assert await asyncio.wait_for(c.runs.next_claimable(T0 + LEASE), 2) is None
        # and the reaper's scan skips held runs the same way
        async with self.new_uow() as a:
            claimed = older.claim("w", T0, LEASE, 1)
            assert await a.runs.save(claimed, attempt=0, status=RunStatus.QUEUED)
            await a.commit()
        async with self.new_uow() as a, self.new_uow() as b:
            assert await a.runs.expired(T0 + 2 * LEASE, 10) == [claimed]
            assert await asyncio.wait_for(b.runs.expired(T0 + 2 * LEASE, 10), 2) == []

    @pytest.mark.parametrize("deleted", ["pipeline", "organization"])
    async def test_a_delete_meeting_a_claim_waits_for_it_and_neither_deadlocks(
        self, deleted: str
    ) -> None:
        """A worker has taken the pipeline's run and is about to take the pipeline's next
        epoch when its owner deletes the pipeline (or the organization): the delete waits
        for the claim, then takes the run along; neither is refused as a deadlock."""
        org = an_organization(slug="doomed")
        async with self.new_uow() as uow:
            await uow.organizations.add(org)
            await uow.commit()
        pipeline = await self.a_pipeline_of(org)
        run = a_run(pipeline)
        await self.given(run)
        async with self.new_uow() as claim:
            assert await claim.runs.next_claimable(T0 + LEASE) == run

            async def delete() -> None:
                async with self.new_uow() as uow:
                    if deleted == "pipeline":
                        await uow.pipelines.delete(org.id, pipeline.id)
                    else:
                        await uow.organizations.delete(org.id)
                    await uow.commit()

            deleting = asyncio.create_task(delete())
            await asyncio.sleep(0.3)  # the delete is waiting now, whatever it waits on
            assert not deleting.done()
            epoch = await asyncio.wait_for(claim.pipelines.next_epoch(org.id, pipeline.id), 5)
            assert epoch is not None
            claimed = run.claim("w", T0, LEASE, epoch)
            assert await claim.runs.save(claimed, attempt=0, status=RunStatus.QUEUED)
            await claim.commit()
        await asyncio.wait_for(deleting, 5)
        async with self.new_uow() as uow:
            assert await uow.runs.get(org.id, run.id) is None
            assert await uow.pipelines.get(org.id, pipeline.id) is None

    async def test_many_claimers_take_each_run_exactly_once(self) -> None:
        """Eight concurrent claim loops over 40 runs: every run claimed once, none twice."""
        pipelines = [await self.a_pipeline_of(self.org, f"p{n}") for n in range(40)]
        runs = [a_run(p, T0 + n * SECOND) for n, p in enumerate(pipelines)]
        await self.given(*runs)
        taken: list[UUID] = []

        async def claimer(worker: str) -> None:
            while True:
                async with self.new_uow() as uow:
                    run = await uow.runs.next_claimable(T0 + 2 * LEASE)
                    if run is None:
                        return
                    claimed = run.claim(worker, T0 + 2 * LEASE, LEASE, 1)
                    assert await uow.runs.save(claimed, attempt=0, status=RunStatus.QUEUED)
                    await uow.commit()
                    taken.append(run.id)

        await asyncio.wait_for(asyncio.gather(*(claimer(f"w{n}") for n in range(8))), 30)
        assert sorted(taken) == sorted(r.id for r in runs)

    async def test_concurrent_triggers_of_one_pipeline_queue_one_run(
        self, pipeline: Pipeline
    ) -> None:
        """Eight units of work add an active run of one pipeline at once: exactly one is
        stored, the others are RunAlreadyActive."""
        start = asyncio.Event()

        async def trigger() -> Run:
            run = a_run(pipeline)
            async with self.new_uow() as uow:
                await start.wait()
                await uow.runs.add(run)
                await asyncio.sleep(0.05)  # hold the insert open while the others arrive
                await uow.commit()
            return run

        tasks = [asyncio.create_task(trigger()) for _ in range(8)]
        await asyncio.sleep(0.1)
        start.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        won = [r for r in results if isinstance(r, Run)]
        assert len(won) == 1
        assert all(isinstance(r, RunAlreadyActive) for r in results if r not in won)
        async with self.new_uow() as uow:
            page = await uow.runs.list(self.org.id, PageRequest(), pipeline_id=pipeline.id)
        assert page.items == won

    async def test_a_trigger_waits_for_a_concurrent_one_and_wins_if_it_rolls_back(
        self, pipeline: Pipeline
    ) -> None:
        """An uncommitted active run makes a second add wait: a rollback lets it through, a
        commit refuses it."""
        async with self.new_uow() as a, self.new_uow() as b:
            await a.runs.add(a_run(pipeline))
            second = a_run(pipeline)
            waiting = asyncio.create_task(b.runs.add(second))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await a.rollback()
            await asyncio.wait_for(waiting, 2)
            await b.commit()
        assert await self.stored(second) == second
        await self.finished(second)
        async with self.new_uow() as a, self.new_uow() as b:
            await a.runs.add(a_run(pipeline))
            waiting = asyncio.create_task(b.runs.add(a_run(pipeline)))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await a.commit()
            with pytest.raises(RunAlreadyActive):
                await asyncio.wait_for(waiting, 2)
