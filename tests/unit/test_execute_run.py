"""A claimed run's attempt on memory adapters: moved and succeeded, cancelled, lost to the
reaper, handed back on shutdown, failed; the heartbeat is what tells the attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import stamina

from tests.catalog import Catalog
from tests.unit.test_move_stream_retries import FailingWriter as CountedFailures
from tests.unit.test_run_pipeline import a_pipeline, wired
from tests.unit.test_run_use_cases import Runs
from thedata.adapters.connectors.retrying import StaminaRetrying
from thedata.adapters.memory.streams import (
    InMemoryStreamReader,
    InMemoryStreamWriter,
)
from thedata.application.errors import ConnectorFailed
from thedata.application.ports import (
    Batch,
    FrameFormat,
    NoRunMetrics,
    ReadPlan,
    Shape,
    StreamFailed,
    Written,
)
from thedata.application.use_cases import ExecuteRun, ProbeDataSource
from thedata.domain.data_sources import DataSource, DataSourceHealth
from thedata.domain.runs import Run, RunStatus

LEASE = timedelta(seconds=30)


class SlowReader:
    """A memory reader whose batches take ``pause`` seconds each to arrive."""

    def __init__(self, reader: InMemoryStreamReader, pause: float) -> None:
        self._reader, self._pause = reader, pause
        self.formats: Sequence[FrameFormat] = reader.formats

    async def shape(self, stream: str) -> Shape:
        return await self._reader.shape(stream)

    async def estimate(self, stream: str) -> int | None:
        return await self._reader.estimate(stream)

    @asynccontextmanager
    async def read(self, stream: str, plan: ReadPlan) -> AsyncIterator[AsyncIterator[Batch]]:
        async with self._reader.read(stream, plan) as batches:
            yield self._slowly(batches)

    async def _slowly(self, batches: AsyncIterator[Batch]) -> AsyncIterator[Batch]:
        async for batch in batches:
            await asyncio.sleep(self._pause)
            yield batch


class FailingWriter(InMemoryStreamWriter):
    """Fails every write with ``error``."""

    def __init__(self, writer: InMemoryStreamWriter, error: Exception) -> None:
        self.__dict__.update(writer.__dict__)
        self._error = error

    @asynccontextmanager
    async def open(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with super().open(*args, **kwargs) as sink:

            async def write(batch: Batch) -> Written:
                raise self._error

            sink.write = write  # type: ignore[method-assign]
            yield sink


async def claimed(pause: float = 0.0) -> tuple[Catalog, Runs, ExecuteRun, Run, Any, Any]:
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    source, destination, _ = wired(catalog)
    catalog.connectors.stream_reader = SlowReader(InMemoryStreamReader(source), pause)
    runs = Runs(catalog)
    await runs.trigger(owner, org, pipeline.id)
    run = await runs.queue.claim("w1")
    assert run is not None
    execute = ExecuteRun(
        catalog.uow, catalog.connectors, catalog.secrets, runs.queue, 1, heartbeat=0.005
    )
    return catalog, runs, execute, run, source, destination


async def test_an_attempt_moves_every_stream_and_the_run_succeeds_with_its_figures() -> None:
    catalog, _, execute, run, source, destination = await claimed()
    done = await execute(run)
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED
    assert destination.tables["orders_copy"].rows == source.tables["orders"].rows
    assert done.streams["orders"].rows_written == 5
    assert done.streams["orders"].estimate == 5
    async with catalog.uow() as uow:
        pipeline = await uow.pipelines.get(run.organization_id, run.pipeline_id)
    assert pipeline is not None
    assert pipeline.state["orders"]["epoch"] == run.epoch


async def test_a_cancel_stops_the_attempt_at_its_next_batch() -> None:
    catalog, runs, execute, run, _, destination = await claimed(pause=0.02)
    owner_org = run.organization_id

    async def cancel_soon() -> None:
        await asyncio.sleep(0.03)
        async with catalog.uow() as uow:
            stored = await uow.runs.get(owner_org, run.id)
            assert stored is not None
            await uow.runs.save(stored.cancel(runs.clock.now()), attempt=1, status=stored.status)
            await uow.commit()

    canceller = asyncio.create_task(cancel_soon())
    ended = await execute(run)
    await canceller
    assert ended is not None
    assert ended.status is RunStatus.CANCELLED
    assert len(destination.tables["orders_copy"].rows) < 5  # stopped between batches


async def test_an_attempt_that_lost_its_lease_stops_and_stores_nothing() -> None:
    catalog, runs, execute, run, _, _ = await claimed(pause=0.02)

    async def reap_soon() -> None:
        await asyncio.sleep(0.03)
        runs.clock.advance(LEASE + timedelta(seconds=1))
        assert [r.id for r in await runs.queue.reap()] == [run.id]

    reaper = asyncio.create_task(reap_soon())
    assert await execute(run) is None
    await reaper
    async with catalog.uow() as uow:
        stored = await uow.runs.get(run.organization_id, run.id)
    assert stored is not None
    assert stored.status is RunStatus.QUEUED  # the reaper's, not this attempt's
    assert stored.error is not None


async def test_a_shutdown_hands_the_run_back_without_spending_an_attempt() -> None:
    _, _, execute, run, _, _ = await claimed(pause=0.02)
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.03, stopping.set)
    back = await execute(run, stopping)
    assert back is not None
    assert back.status is RunStatus.QUEUED
    assert back.attempt == 0


AHEAD = 10**15
"""An epoch the destination holds that the control database never handed out."""


async def test_a_destination_ahead_of_the_control_database_raises_the_epochs_past_it() -> None:
    """A later epoch than any the control database gave holds the destination (a restore
    onto a clock behind the old one): the attempt fails retryably, naming it, the pipeline's
    epochs start above it, and the next attempt moves the rows."""
    _, runs, execute, run, source, destination = await claimed()
    destination.state[(str(run.pipeline_id), "orders")] = (AHEAD, None)
    ended = await execute(run)
    assert ended is not None
    assert ended.status is RunStatus.QUEUED
    assert ended.error is not None
    assert ended.error.type == "attempt_superseded"
    assert ended.error.retryable
    assert f"epoch {AHEAD}" in ended.error.message
    assert "orders_copy" not in destination.tables
    runs.clock.advance(timedelta(hours=1))  # past the retry's backoff
    again = await runs.queue.claim("w2")
    assert again is not None
    assert again.epoch is not None
    assert again.epoch > AHEAD
    done = await execute(again)
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED
    assert destination.tables["orders_copy"].rows == source.tables["orders"].rows


async def test_an_attempt_superseded_after_losing_its_run_stores_nothing_and_raises_nothing() -> (
    None
):
    """The later epoch is another attempt's, which took the run over: this one is a zombie;
    it neither fails the run nor moves the pipeline's epochs."""
    catalog, runs, execute, run, _, destination = await claimed()
    destination.state[(str(run.pipeline_id), "orders")] = (AHEAD, None)
    runs.clock.advance(LEASE + timedelta(seconds=1))
    assert [r.id for r in await runs.queue.reap()] == [run.id]
    assert await execute(run) is None
    async with catalog.uow() as uow:
        stored = await uow.runs.get(run.organization_id, run.id)
        next_epoch = await uow.pipelines.next_epoch(run.organization_id, run.pipeline_id)
    assert stored is not None
    assert stored.status is RunStatus.QUEUED  # the reaper's doing, not this attempt's
    assert next_epoch is not None
    assert next_epoch < AHEAD


@pytest.mark.parametrize("retryable", [True, False])
async def test_a_failed_stream_queues_the_run_again_or_fails_it(retryable: bool) -> None:
    catalog, _, execute, run, _, destination = await claimed()
    error = StreamFailed("the destination refused", retryable=retryable)
    catalog.connectors.stream_writer = FailingWriter(InMemoryStreamWriter(destination), error)
    ended = await execute(run)
    assert ended is not None
    assert ended.status is (RunStatus.QUEUED if retryable else RunStatus.FAILED)
    assert ended.error is not None
    assert ended.error.message == "the destination refused"
    assert ended.error.retryable is retryable


async def test_a_run_waits_out_an_open_circuit_then_fails_in_bounded_time() -> None:
    """Deferred to the circuit's end without spending an attempt, for up to two minutes since
    it was queued; then the outage counts as a retryable failure, and the attempts run out."""
    catalog, runs, execute, run, _, _ = await claimed()
    clock = runs.clock

    async def source_down_for(seconds: int) -> None:
        async with catalog.uow() as uow:
            pipeline = await uow.pipelines.get(run.organization_id, run.pipeline_id)
            assert pipeline is not None
            until = clock.now() + timedelta(seconds=seconds)
            health = DataSourceHealth("open", until, None, "unreachable")
            await uow.data_sources.record_health(pipeline.source_id, health)
            await uow.commit()

    await source_down_for(60)
    deferred = await execute(run)
    assert deferred is not None
    assert deferred.status is RunStatus.QUEUED
    assert deferred.attempt == 0  # no attempt spent
    assert deferred.error is not None
    assert deferred.error.type == "circuit_open"
    assert deferred.not_before == clock.now() + timedelta(seconds=60)
    seen = []
    for _ in range(6):
        clock.advance(timedelta(seconds=61))
        await source_down_for(60)
        again = await runs.queue.claim("w1")
        if again is None:
            continue
        ended = await execute(again)
        assert ended is not None
        seen.append((ended.status, ended.attempt))
        if ended.status.finished:
            break
    assert seen[-1] == (RunStatus.FAILED, 2)  # within a few minutes, its 2 attempts spent


def probing(catalog: Catalog, runs: Runs) -> ExecuteRun:
    """An attempt that first checks both data sources through the catalog's breakers."""
    probe = ProbeDataSource(
        catalog.uow, runs.clock, catalog.connectors, catalog.secrets, catalog.guard
    )
    return ExecuteRun(
        catalog.uow,
        catalog.connectors,
        catalog.secrets,
        runs.queue,
        1,
        heartbeat=0.005,
        probe=probe,
    )


async def source_of(catalog: Catalog, run: Run) -> DataSource:
    """The run's pipeline's source, as stored now."""
    async with catalog.uow() as uow:
        pipeline = await uow.pipelines.get(run.organization_id, run.pipeline_id)
        assert pipeline is not None
        source = await uow.data_sources.get(run.organization_id, pipeline.source_id)
    assert source is not None
    return source


async def health_of(catalog: Catalog, run: Run) -> DataSourceHealth:
    return (await source_of(catalog, run)).health


async def test_an_unanswering_data_source_spends_the_attempt_and_counts_on_its_breaker() -> None:
    """The source refuses connections: the attempt fails retryably, naming the data source;
    the failure is on its breaker and in its health (what ``GET data-source`` shows), and
    not one row was read."""
    catalog, runs, _, run, _, destination = await claimed()
    catalog.connectors.connector_script.failure = ConnectorFailed("connection refused")
    ended = await probing(catalog, runs)(run)
    assert ended is not None
    assert (ended.status, ended.attempt) == (RunStatus.QUEUED, 1)
    assert ended.error is not None
    assert ended.error.retryable
    assert "'source'" in ended.error.message or "'destination'" in ended.error.message
    assert "connection refused" in ended.error.message
    assert (await health_of(catalog, run)).last_error == "connection refused"
    assert destination.tables == {}


async def test_a_circuit_opened_by_failures_defers_the_next_attempt_without_spending_it() -> None:
    """After enough failed calls the source's breaker is open: the next attempt does not try
    the source at all, and waits for the circuit's end with its attempt given back."""
    catalog, runs, _, run, _, _ = await claimed()
    catalog.connectors.connector_script.failure = ConnectorFailed("connection refused")
    probe = ProbeDataSource(
        catalog.uow, runs.clock, catalog.connectors, catalog.secrets, catalog.guard
    )
    async with catalog.uow() as uow:
        pipeline = await uow.pipelines.get(run.organization_id, run.pipeline_id)
        assert pipeline is not None
        source = await uow.data_sources.get(run.organization_id, pipeline.source_id)
    assert source is not None
    for _ in range(2):  # checks that failed (minimum_calls=2 in the catalog's settings)
        with pytest.raises(ConnectorFailed):
            await probe(source)
    calls = catalog.connectors.connector_script.calls
    deferred = await probing(catalog, runs)(run)
    assert deferred is not None
    assert (deferred.status, deferred.attempt) == (RunStatus.QUEUED, 0)
    assert deferred.error is not None
    assert deferred.error.type == "circuit_open"
    assert deferred.not_before == runs.clock.now() + timedelta(seconds=30)  # wait_in_open
    assert catalog.connectors.connector_script.calls == calls  # known open: nothing tried
    assert (await health_of(catalog, run)).circuit == "open"


class RecordedMoves:
    """A ``RunMetrics`` that keeps what ``moved`` was told (the rest: ``NoRunMetrics``)."""

    def __init__(self) -> None:
        self.moves: list[tuple[str, str, int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(NoRunMetrics(), name)

    def moved(self, source_kind: str, destination_kind: str, rows: int, size: int) -> None:
        self.moves.append((source_kind, destination_kind, rows, size))


async def test_the_metrics_count_every_batch_written_once_a_full_refresh_redone_included() -> None:
    """Rows and bytes are counted per batch, by the kinds at both ends: the 5 orders, then the
    customers' first batch, whose load fails and is redone whole within the attempt (2 more
    rows: the discarded batch was written too, and counts once)."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    _, destination, _ = wired(catalog)
    writes_before_failure = 6  # orders: 5 batches of 1 row; customers: the 2nd batch fails
    lost = StreamFailed("connection lost", retryable=True)
    catalog.connectors.stream_writer = CountedFailures(destination, {writes_before_failure}, lost)
    runs = Runs(catalog)
    await runs.trigger(owner, org, pipeline.id)
    run = await runs.queue.claim("w1")
    assert run is not None
    metrics = RecordedMoves()
    stamina.set_testing(True, attempts=2)
    try:
        execute = ExecuteRun(
            catalog.uow,
            catalog.connectors,
            catalog.secrets,
            runs.queue,
            1,
            retrying=StaminaRetrying(),
            metrics=metrics,
        )
        done = await execute(run)
    finally:
        stamina.set_testing(False)
    assert done is not None
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert {(s, d) for s, d, _, _ in metrics.moves} == {("postgres", "postgres")}
    assert sum(rows for _, _, rows, _ in metrics.moves) == 5 + 1 + 2
    assert all(rows == 1 and size > 0 for _, _, rows, size in metrics.moves)
