"""Runs under faults a hostile review found: a cancel meeting a hand-back or a deferral, a
worker paused past its lease, a control-database blip at the end of an attempt, a zombie's
late state mirror, a host with a slow clock. Each test states its scenario; the oracle is
what docs/runs.md promises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from tests.catalog import Catalog
from tests.unit.test_execute_run import LEASE as EXECUTE_LEASE
from tests.unit.test_execute_run import SlowReader, claimed, source_of
from tests.unit.test_run_pipeline import a_pipeline, wired
from tests.unit.test_run_use_cases import BACKOFF, LEASE, Runs
from thedata.adapters.memory.streams import InMemoryStreamReader
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.errors import ConnectorFailed, DatabaseUnavailable, SecretStoreUnavailable
from thedata.application.move_stream import StreamOutcome
from thedata.application.ports import Batch, FrameFormat, Position, ReadPlan, WriteMode
from thedata.application.use_cases import ExecuteRun, ProbeDataSource, RunQueue
from thedata.application.use_cases.run_pipeline import mirror_state
from thedata.domain.circuit_breaker import BreakerSettings
from thedata.domain.data_sources import DataSourceHealth
from thedata.domain.principal import Principal
from thedata.domain.runs import Run, RunStatus


async def _claimed(
    catalog: Catalog | None = None,
) -> tuple[Catalog, Runs, Principal, UUID, Run, Any, Any]:
    catalog = catalog or Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    source, destination, _ = wired(catalog)
    runs = Runs(catalog)
    await runs.trigger(owner, org, pipeline.id)
    run = await runs.queue.claim("w1")
    assert run is not None
    return catalog, runs, owner, org, run, source, destination


def _execute(catalog: Catalog, queue: RunQueue, heartbeat: float = 0.005) -> ExecuteRun:
    return ExecuteRun(
        catalog.uow, catalog.connectors, catalog.secrets, queue, 1, heartbeat=heartbeat
    )


async def _stored(catalog: Catalog, run: Run) -> Run:
    async with catalog.uow() as uow:
        stored = await uow.runs.get(run.organization_id, run.id)
    assert stored is not None
    return stored


# --- a cancel accepted (202) is lost when the attempt hands the run back or defers it -----


async def test_a_cancel_asked_before_a_hand_back_is_honoured() -> None:
    """A user cancels a running run (202, cancel_requested); the worker then stops (SIGTERM)
    and hands the run back. The run goes back to the queue with the request still set, the
    next worker executes it again, and a short run succeeds: the cancel was lost."""
    catalog, runs, owner, org, run, _, _ = await _claimed()
    asked = await runs.cancel(owner, org, run.id)
    assert asked.cancel_requested
    await runs.queue.hand_back(run)  # w1 shuts down at its next batch
    again = await runs.queue.claim("w2")
    if again is not None:  # the run was queued again: w2 executes it
        await _execute(catalog, runs.queue)(again)
    assert (await _stored(catalog, run)).status is RunStatus.CANCELLED


async def test_a_cancel_asked_before_a_deferral_is_honoured() -> None:
    """A user cancels a running run whose source's circuit turns out to be open: the run is
    deferred (queued again for the circuit's end) with the request still set, and once the
    source is back the next attempt runs and succeeds: the cancel was lost."""
    catalog, runs, owner, org, run, _, _ = await _claimed()
    await runs.cancel(owner, org, run.id)
    async with catalog.uow() as uow:
        pipeline = await uow.pipelines.get(org, run.pipeline_id)
        assert pipeline is not None
        until = runs.clock.now() + timedelta(seconds=30)
        await uow.data_sources.record_health(
            pipeline.source_id, DataSourceHealth("open", until, None, "unreachable")
        )
        await uow.commit()
    await _execute(catalog, runs.queue)(run)
    runs.clock.advance(timedelta(seconds=31))
    again = await runs.queue.claim("w2")
    if again is not None:
        await _execute(catalog, runs.queue)(again)
    assert (await _stored(catalog, run)).status is RunStatus.CANCELLED


# --- a zombie writes rows after its lease expired and the reaper took the run back ----------


class PausingReader(SlowReader):
    """After ``after`` batches, ``pause()`` runs (the worker is SIGSTOPped meanwhile)."""

    def __init__(self, reader: InMemoryStreamReader, after: int, pause: Callable[[], Any]) -> None:
        super().__init__(reader, 0.0)
        self._after, self._on_pause, self._seen = after, pause, 0

    @asynccontextmanager
    async def read(self, stream: str, plan: ReadPlan) -> AsyncIterator[AsyncIterator[Batch]]:
        async with self._reader.read(stream, plan) as batches:
            yield self._pausing(batches)

    async def _pausing(self, batches: AsyncIterator[Batch]) -> AsyncIterator[Batch]:
        async for batch in batches:
            if self._seen == self._after:
                await self._on_pause()
            self._seen += 1
            yield batch


async def test_a_worker_paused_past_its_lease_writes_no_row_once_it_wakes() -> None:
    """docs/runs.md: a worker paused past its lease that wakes up can neither finish the run,
    nor store progress, nor write a row. The attempt writes 2 rows, is paused past its lease,
    the reaper of another worker re-queues the run (with a 5 s backoff: no new attempt has
    opened the destination yet, so the epoch fence is not raised), and the zombie wakes
    before its next heartbeat: it goes on writing every remaining row, though it knows its
    own lease ended (``run.lease_expires_at`` against its clock)."""
    catalog, runs, _, _, run, source, destination = await _claimed()

    async def paused_past_the_lease() -> None:
        runs.clock.advance(LEASE + timedelta(seconds=1))
        assert [r.id for r in await runs.queue.reap()] == [run.id]

    catalog.connectors.stream_reader = PausingReader(
        InMemoryStreamReader(source), 2, paused_past_the_lease
    )
    # the heartbeat's next beat has not come round yet when it wakes (every 2 s by default)
    ended = await _execute(catalog, runs.queue, heartbeat=60)(run)
    assert ended is None
    assert len(destination.tables["orders_copy"].rows) == 2


# --- one failed transaction at the end of a successful attempt costs an attempt -------------


class FlakyUnitsOfWork:
    """The catalog's units of work; after ``spared`` more, the next ``failures`` ones fail to
    open (a blip)."""

    def __init__(self, catalog: Catalog) -> None:
        self._uow, self.failures, self.spared = catalog.uow, 0, 0

    def __call__(self) -> Any:
        if self.spared:
            self.spared -= 1
        elif self.failures:
            self.failures -= 1
            raise DatabaseUnavailable("the database is unavailable")
        return self._uow()


async def test_a_control_database_blip_at_the_end_does_not_lose_a_successful_attempt() -> None:
    """Every stream moved; storing "succeeded" meets a one-off control-database error (the
    heartbeat rides such errors out; the final store does not try again). The attempt
    crashes, the run stays ``running`` until its lease expires, and the reaper re-queues it
    with ``lease_expired``, an attempt spent (on the last attempt: failed, though every row
    was delivered)."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    wired(catalog)
    runs = Runs(catalog)
    flaky = FlakyUnitsOfWork(catalog)
    queue = RunQueue(flaky, runs.clock, LEASE, BACKOFF)
    run = await runs.trigger(owner, org, pipeline.id)
    claimed = await queue.claim("w1")
    assert claimed is not None
    flaky.spared, flaky.failures = 1, 1  # after the attempt's first renewal: the final store
    with suppress(DatabaseUnavailable):
        await _execute(catalog, queue, heartbeat=60)(claimed)
    assert (await _stored(catalog, run)).status is RunStatus.SUCCEEDED


# --- leases are measured with the store's clock, not each host's ---------------------------


class SkewedClock:
    """A host whose wall clock runs ``behind`` the others (its monotonic clock is sound)."""

    def __init__(self, clock: Any, behind: timedelta) -> None:
        self._clock, self._behind = clock, behind

    def step(self, ahead: timedelta) -> None:
        """The wall clock jumps."""
        self._behind -= ahead

    def now(self) -> datetime:
        return self._clock.now() - self._behind  # type: ignore[no-any-return]

    def monotonic(self) -> float:
        return self._clock.monotonic()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("skew_a", "skew_b"),
    [(timedelta(seconds=40), timedelta(0)), (timedelta(0), timedelta(seconds=-40))],
    ids=["A's clock behind", "B's clock ahead"],
)
async def test_a_live_worker_keeps_its_run_whatever_the_hosts_clocks_say(
    skew_a: timedelta, skew_b: timedelta
) -> None:
    """Workers on many hosts, one clock 40 s off the other (NTP broken). A claims a run and
    has just renewed its lease; the reaper on host B must not find the lease 'expired' (were
    A's lease end written with A's clock and compared with B's, the run would be re-queued at
    every heartbeat of A, never finish and burn its attempts)."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    wired(catalog)
    runs = Runs(catalog)
    host_a = RunQueue(catalog.uow, SkewedClock(runs.clock, skew_a), LEASE, BACKOFF)
    host_b = RunQueue(catalog.uow, SkewedClock(runs.clock, skew_b), LEASE, BACKOFF)
    await runs.trigger(owner, org, pipeline.id)
    held = await host_a.claim("a")
    assert held is not None
    assert await host_a.renew(held) is not None  # A is alive and says so
    assert await host_b.reap() == []  # host B's reaper, a moment later
    runs.clock.advance(LEASE + timedelta(seconds=1))  # A falls silent past its lease
    assert [r.id for r in await host_b.reap()] == [held.id]


async def test_an_attempt_outlives_a_step_of_its_hosts_wall_clock() -> None:
    """The host's wall clock jumps an hour ahead mid-run (a manual fix, a VM resumed): the
    attempt still holds its lease (measured on the monotonic clock) and finishes the run."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    wired(catalog)
    runs = Runs(catalog)
    host = SkewedClock(runs.clock, timedelta(0))
    queue = RunQueue(catalog.uow, host, LEASE, BACKOFF)
    run = await runs.trigger(owner, org, pipeline.id)
    claimed = await queue.claim("w1")
    assert claimed is not None
    host.step(timedelta(hours=1))
    ended = await _execute(catalog, queue)(claimed)
    assert ended is not None
    assert ended.status is RunStatus.SUCCEEDED
    assert (await _stored(catalog, run)).status is RunStatus.SUCCEEDED


# --- a zombie's late mirror moves the pipeline's state back ----------------------------------


def _outcome(cursor: str) -> StreamOutcome:
    return StreamOutcome(1, 1, FrameFormat.CSV, WriteMode.UPSERT, Position(cursor, ("1",)))


async def test_the_pipeline_state_never_goes_back_to_an_older_attempts_position() -> None:
    """Attempt with epoch 4 commits its stream then pauses before mirroring its state; the
    next attempt (epoch 5) moves further and mirrors cursor 200; the zombie wakes and mirrors
    cursor 100 with epoch 4. ``GET pipeline`` shows state older than the destination's (the
    issue: "each stream's cursor as last committed"); record_state is not fenced by epoch."""
    catalog = Catalog()
    _, org, pipeline = await a_pipeline(catalog)
    await mirror_state(catalog.uow, pipeline, "orders", _outcome("200"), 5)
    await mirror_state(catalog.uow, pipeline, "orders", _outcome("100"), 4)
    async with catalog.uow() as uow:
        stored = await uow.pipelines.get(org, pipeline.id)
    assert stored is not None
    assert stored.state["orders"]["epoch"] == 5
    assert stored.state["orders"]["cursor"] == "200"


# --- found by review: the first lease, deferrals on a skewed host, a check that never ran ---


async def test_an_attempt_paused_between_its_claim_and_its_start_writes_nothing() -> None:
    """Worker A claims, then is paused (GC, SIGSTOP) past the lease before its attempt
    starts; the reaper re-queues the run and B claims it. Resumed, A learns it lost the run
    before writing a row: its first lease was not measured from its start."""
    catalog, runs, _, run, _, destination = await claimed()
    runs.clock.advance(EXECUTE_LEASE + timedelta(seconds=5))
    assert [r.id for r in await runs.queue.reap()] == [run.id]
    runs.clock.advance(timedelta(seconds=60))
    assert await runs.queue.claim("w2") is not None
    late = ExecuteRun(catalog.uow, catalog.connectors, catalog.secrets, runs.queue, 1, heartbeat=10)
    assert await late(run) is None
    assert destination.tables == {}


async def test_a_deferral_by_a_host_whose_clock_is_behind_still_makes_the_run_wait() -> None:
    """The host deciding the deferral is 60 s behind the store: the run still waits out the
    circuit's pause (30 s) by the store's time, rather than being claimable at once (and
    claimed and deferred in a loop)."""
    catalog, runs, _, run, _, _ = await claimed()
    catalog.connectors.connector_script.failure = ConnectorFailed("connection refused")
    host = SkewedClock(runs.clock, timedelta(seconds=60))
    queue = RunQueue(catalog.uow, host, LEASE, BACKOFF)
    settings = BreakerSettings(minimum_calls=2, window_size=4, wait_in_open=30)
    guard = ConnectorGuard(host, settings, timeout=1)
    probe = ProbeDataSource(catalog.uow, host, catalog.connectors, catalog.secrets, guard)
    source = await source_of(catalog, run)
    for _ in range(2):
        with pytest.raises(ConnectorFailed):
            await probe(source)
    execute = ExecuteRun(
        catalog.uow, catalog.connectors, catalog.secrets, queue, 1, heartbeat=0.005, probe=probe
    )
    deferred = await execute(run)
    assert deferred is not None
    assert deferred.status is RunStatus.QUEUED
    assert deferred.not_before == runs.clock.now() + timedelta(seconds=30)  # the store's time
    assert await queue.claim("w1") is None


async def test_a_check_that_never_ran_leaves_the_health_as_it_was() -> None:
    """The source failed its last check; then a probe cannot even build its connector (the
    secret store is away): the health still says what the last real check found."""
    catalog, runs, _, run, _, _ = await claimed()
    probe = ProbeDataSource(
        catalog.uow, runs.clock, catalog.connectors, catalog.secrets, catalog.guard
    )
    source = await source_of(catalog, run)
    catalog.connectors.connector_script.failure = ConnectorFailed("connection refused")
    with pytest.raises(ConnectorFailed):
        await probe(source)
    failed = (await source_of(catalog, run)).health
    runs.clock.advance(timedelta(seconds=1))
    catalog.connectors.connector_script.failure = SecretStoreUnavailable("away")
    with pytest.raises(SecretStoreUnavailable):
        await probe(source)
    assert (await source_of(catalog, run)).health == failed
