"""Runs on memory adapters: triggered once at a time, read, cancelled, claimed with the
pipeline's next epoch, renewed, finished and reaped, every worker step fenced by its attempt."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from tests.catalog import Catalog
from tests.unit.test_run_pipeline import a_pipeline
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.use_cases import CancelRun, GetRun, ListRuns, RunQueue, TriggerRun
from thedata.domain.access import Role
from thedata.domain.errors import PermissionDenied
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import PipelineNotFound
from thedata.domain.principal import Principal
from thedata.domain.runs import (
    LEASE_EXPIRED,
    AttemptOutcome,
    Backoff,
    RunAlreadyActive,
    RunError,
    RunFinished,
    RunNotFound,
    RunStatus,
    StreamStats,
)

LEASE = timedelta(seconds=30)
BACKOFF = Backoff(timedelta(seconds=5), timedelta(seconds=60))


class Runs:
    """The run use cases over one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        clock, uow = catalog.identity.clock, catalog.uow
        self.clock = clock
        self.trigger = TriggerRun(uow, clock, UuidV7IdFactory(), catalog.identity.policy, 2)
        self.get = GetRun(uow)
        self.list = ListRuns(uow)
        self.cancel = CancelRun(uow, clock)
        self.queue = RunQueue(uow, clock, LEASE, BACKOFF)


async def setup() -> tuple[Catalog, Runs, Principal, UUID, UUID]:
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    return catalog, Runs(catalog), owner, org, pipeline.id


async def test_a_trigger_queues_one_run_and_a_second_waits_for_it_to_end() -> None:
    _, runs, owner, org, pipeline = await setup()
    run = await runs.trigger(owner, org, pipeline)
    assert run.status is RunStatus.QUEUED
    with pytest.raises(RunAlreadyActive):
        await runs.trigger(owner, org, pipeline)
    claimed = await runs.queue.claim("w1")
    assert claimed is not None
    with pytest.raises(RunAlreadyActive):
        await runs.trigger(owner, org, pipeline)
    assert await runs.queue.succeed(claimed) is not None
    again = await runs.trigger(owner, org, pipeline)
    page = await runs.list(owner, org, PageRequest(), pipeline_id=pipeline)
    assert [r.id for r in page.items] == [again.id, run.id]  # newest first
    queued = await runs.list(owner, org, PageRequest(), status=RunStatus.QUEUED)
    assert [r.id for r in queued.items] == [again.id]


async def test_viewers_read_runs_but_cannot_trigger_or_cancel_them() -> None:
    catalog, runs, owner, org, pipeline = await setup()
    viewer = await catalog.identity.member(org, owner, "vi@example.com", Role.VIEWER)
    run = await runs.trigger(owner, org, pipeline)
    with pytest.raises(PermissionDenied):
        await runs.trigger(viewer, org, pipeline)
    with pytest.raises(PermissionDenied):
        await runs.cancel(viewer, org, run.id)
    assert (await runs.get(viewer, org, run.id)).id == run.id


async def test_another_organizations_runs_and_pipelines_are_not_found() -> None:
    catalog, runs, owner, org, pipeline = await setup()
    run = await runs.trigger(owner, org, pipeline)
    stranger = await catalog.identity.user("eve@example.com")
    other_org, stranger = await catalog.identity.organization(stranger, "Evil")
    with pytest.raises(RunNotFound):
        await runs.get(stranger, other_org, run.id)
    with pytest.raises(PipelineNotFound):
        await runs.trigger(stranger, other_org, pipeline)
    with pytest.raises(PipelineNotFound):
        await runs.list(stranger, other_org, PageRequest(), pipeline_id=pipeline)
    assert (await runs.list(stranger, other_org, PageRequest())).items == []


async def test_cancel_a_queued_run_at_once_a_running_one_at_its_next_step_not_a_finished_one() -> (
    None
):
    _, runs, owner, org, pipeline = await setup()
    queued = await runs.trigger(owner, org, pipeline)
    assert (await runs.cancel(owner, org, queued.id)).status is RunStatus.CANCELLED
    with pytest.raises(RunFinished):
        await runs.cancel(owner, org, queued.id)
    running = await runs.trigger(owner, org, pipeline)
    claimed = await runs.queue.claim("w1")
    assert claimed is not None
    assert claimed.id == running.id
    asked = await runs.cancel(owner, org, running.id)
    assert asked.status is RunStatus.RUNNING
    assert asked.cancel_requested
    renewed = await runs.queue.renew(claimed)
    assert renewed is not None
    assert renewed.cancel_requested  # the worker learns it at its next renewal
    stopped = await runs.queue.cancelled(renewed)
    assert stopped is not None
    assert stopped.status is RunStatus.CANCELLED


async def test_each_claim_takes_a_larger_epoch_and_each_attempt_keeps_its_figures() -> None:
    _, runs, owner, org, pipeline = await setup()
    await runs.trigger(owner, org, pipeline)
    first = await runs.queue.claim("w1")
    assert first is not None
    assert first.epoch is not None
    assert await runs.queue.claim("w2") is None  # the only run is taken
    progressed = await runs.queue.record(first.progressed("orders", StreamStats(5, 5, 10)))
    assert progressed is not None
    failed = await runs.queue.fail(progressed, RunError("stream_failed", "busy", retryable=True))
    assert failed is not None
    assert failed.status is RunStatus.QUEUED
    assert await runs.queue.claim("w2") is None  # it waits out its backoff
    runs.clock.advance(timedelta(seconds=5))
    second = await runs.queue.claim("w2")
    assert second is not None
    assert second.attempt == 2
    assert second.epoch is not None
    assert second.epoch > first.epoch
    shown = await runs.get(owner, org, second.id)
    assert shown.streams == {}  # the second attempt's own figures, none yet
    (ended,) = shown.attempts  # the first attempt's, in its record
    assert (ended.number, ended.worker_id, ended.outcome) == (1, "w1", AttemptOutcome.FAILED)
    assert ended.streams["orders"] == StreamStats(5, 5, 10)
    assert ended.error == RunError("stream_failed", "busy", retryable=True)


async def test_a_worker_that_lost_its_lease_can_neither_renew_record_nor_finish() -> None:
    """Reaped and claimed by another worker: the first worker's every step stores nothing."""
    _, runs, owner, org, pipeline = await setup()
    await runs.trigger(owner, org, pipeline)
    zombie = await runs.queue.claim("w1")
    assert zombie is not None
    runs.clock.advance(LEASE + timedelta(seconds=1))
    reaped = await runs.queue.reap()
    assert [r.id for r in reaped] == [zombie.id]
    assert reaped[0].error is not None
    assert reaped[0].error.type == LEASE_EXPIRED
    assert await runs.queue.reap() == []  # reaping again changes nothing
    runs.clock.advance(timedelta(seconds=5))
    heir = await runs.queue.claim("w2")
    assert heir is not None
    assert await runs.queue.renew(zombie) is None
    assert await runs.queue.record(zombie.progressed("orders", StreamStats(9, 9))) is None
    assert await runs.queue.succeed(zombie) is None
    assert (await runs.get(owner, org, heir.id)).status is RunStatus.RUNNING
    done = await runs.queue.succeed(heir)
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED


async def test_a_run_whose_lease_keeps_expiring_fails_after_its_attempts() -> None:
    _, runs, owner, org, pipeline = await setup()
    run = await runs.trigger(owner, org, pipeline)
    for _ in range(2):  # max_attempts is 2 here
        assert await runs.queue.claim("w") is not None
        runs.clock.advance(LEASE + timedelta(seconds=1))
        await runs.queue.reap()
        runs.clock.advance(timedelta(minutes=2))  # past the backoff
    failed = await runs.get(owner, org, run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == LEASE_EXPIRED


async def test_a_run_renewed_within_its_lease_is_never_reaped() -> None:
    _, runs, owner, org, pipeline = await setup()
    await runs.trigger(owner, org, pipeline)
    run = await runs.queue.claim("w1")
    for _ in range(5):  # five leases long, renewed every third of one
        assert run is not None
        runs.clock.advance(LEASE / 3)
        assert await runs.queue.reap() == []
        run = await runs.queue.renew(run)
    assert run is not None
    assert run.status is RunStatus.RUNNING


async def test_a_handed_back_run_is_claimable_at_once_without_spending_an_attempt() -> None:
    _, runs, owner, org, pipeline = await setup()
    await runs.trigger(owner, org, pipeline)
    run = await runs.queue.claim("w1")
    assert run is not None
    back = await runs.queue.hand_back(run)
    assert back is not None
    assert back.attempt == 0
    again = await runs.queue.claim("w2")
    assert again is not None
    assert again.attempt == 1
