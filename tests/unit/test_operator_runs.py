"""The operators' run use cases on memory adapters with a manual clock: which runs are
stuck, and what may be retried (``thedata runs list --stuck``, ``thedata runs retry``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.test_enqueue_due_runs import Scheduling
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.use_cases import DeletePipeline, ListActiveRuns, RetryRun
from thedata.application.use_cases.list_active_runs import REAP_GRACE
from thedata.domain.runs import (
    RunAlreadyActive,
    RunError,
    RunNotFound,
    RunNotRetryable,
    RunStatus,
    RunTrigger,
)

QUEUE_WAIT = timedelta(minutes=5)
SECOND = timedelta(seconds=1)


async def scene() -> tuple[Scheduling, ListActiveRuns, RetryRun]:
    s = Scheduling()
    await s.start()
    uow = s.catalog.uow
    return s, ListActiveRuns(uow, QUEUE_WAIT), RetryRun(uow, s.clock, UuidV7IdFactory(), 3)


async def test_a_run_is_stuck_once_its_lease_ended_past_the_reapers_grace() -> None:
    """A running run whose lease ended is still the reapers' for REAP_GRACE; after, stuck."""
    s, list_active, _ = await scene()
    run = await s.trigger(s.owner, s.org, await s.pipeline(None))
    claimed = await s.queue.claim("w")
    assert claimed is not None
    s.clock.advance(s.queue.lease + REAP_GRACE)
    assert [e.stuck for e in (await list_active()).runs] == [None]
    assert (await list_active(stuck_only=True)).runs == ()
    s.clock.advance(SECOND)
    (entry,) = (await list_active(stuck_only=True)).runs
    assert entry.run.id == run.id
    assert entry.stuck == "its lease ended 31 s ago and no worker took it back"


async def test_a_queued_run_is_stuck_once_claimable_longer_than_the_queue_wait() -> None:
    """Counted from its backoff's end, not from its first queuing."""
    s, list_active, _ = await scene()
    run = await s.trigger(s.owner, s.org, await s.pipeline(None))
    s.clock.advance(QUEUE_WAIT)
    assert (await list_active(stuck_only=True)).runs == ()
    s.clock.advance(SECOND)
    (entry,) = (await list_active(stuck_only=True)).runs
    assert (entry.run.id, entry.stuck) == (run.id, "claimable for 301 s and no worker took it")
    claimed = await s.queue.claim("w")
    assert claimed is not None
    error = RunError("connection_lost", "the source went away", retryable=True)
    await s.queue.fail(claimed, error)  # back in the queue after its backoff
    s.clock.advance(QUEUE_WAIT)
    assert (await list_active(stuck_only=True)).runs == ()


async def test_only_failed_and_cancelled_runs_are_retried_as_new_runs() -> None:
    """A retry is a new queued run of the same pipeline with the trigger ``retry``; a queued,
    running or succeeded run, an unknown one, a busy or deleted pipeline are refused."""
    s, _, retry = await scene()
    pipeline = await s.pipeline(None)
    run = await s.trigger(s.owner, s.org, pipeline)
    with pytest.raises(RunNotRetryable, match="is queued"):
        await retry(run.id)
    claimed = await s.queue.claim("w")
    assert claimed is not None
    with pytest.raises(RunNotRetryable, match="is running"):
        await retry(run.id)
    for _ in range(3):  # every attempt fails: the run ends failed
        error = RunError("connection_lost", "the source went away", retryable=True)
        await s.queue.fail(claimed, error)
        s.clock.advance(timedelta(hours=1))
        claimed = await s.queue.claim("w") or claimed
    async with s.catalog.uow() as uow:
        failed = await uow.runs.find_in_any_organization(run.id)
    assert failed is not None
    assert failed.status is RunStatus.FAILED
    again = await retry(run.id)
    assert (again.pipeline_id, again.trigger, again.status) == (
        pipeline,
        RunTrigger.RETRY,
        RunStatus.QUEUED,
    )
    with pytest.raises(RunAlreadyActive):
        await retry(run.id)
    claimed = await s.queue.claim("w")
    assert claimed is not None
    assert claimed.id == again.id
    await s.queue.succeed(claimed)
    with pytest.raises(RunNotRetryable, match="succeeded: nothing to retry"):
        await retry(again.id)
    with pytest.raises(RunNotFound):
        await retry(UuidV7IdFactory().new_id())
    await DeletePipeline(s.catalog.uow)(s.owner, s.org, pipeline)
    with pytest.raises(RunNotFound):  # its runs went with it
        await retry(run.id)
