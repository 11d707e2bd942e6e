"""One attempt of a claimed run: its streams moved, its lease kept, its progress shown.

While the engine moves the streams (with the epoch the claim took, so an
older attempt's late writes are refused by the destination itself), a
heartbeat renews the lease and stores the streams' figures every
``heartbeat`` seconds. Between batches the attempt stops when the heartbeat
learnt that the run was cancelled (the destination keeps what committed), that
the attempt lost the run (the reaper took it back after a missed lease), or
that the worker is shutting down (the run is handed back without spending an
attempt). Every outcome is stored through ``RunQueue``, fenced by the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from thedata.application.errors import (
    CircuitOpen,
    ConnectorFailed,
    ConnectorMisconfigured,
    DependencyUnavailable,
)
from thedata.application.move_stream import move_stream
from thedata.application.ports import (
    Clock,
    ConnectorFactory,
    Moved,
    NoRunMetrics,
    Retrying,
    RunMetrics,
    UnitOfWorkFactory,
    Written,
)
from thedata.application.ports.secrets import SecretStore
from thedata.application.ports.streams import StreamFailed, Superseded
from thedata.application.ports.tracing import NoSpans, Spans
from thedata.application.use_cases.check_data_source import ProbeDataSource
from thedata.application.use_cases.data_source_access import find_data_source
from thedata.application.use_cases.get_pipeline import find_pipeline
from thedata.application.use_cases.run_pipeline import ends, mirror_state
from thedata.application.use_cases.run_queue import RunQueue
from thedata.domain.data_sources import DataSource
from thedata.domain.errors import DomainError
from thedata.domain.runs import Run, RunError, StreamStats

_STORE_PAUSE = 0.5
"""Seconds between tries to store an outcome while the control database is away."""


class _Stop(Exception):
    """The attempt stops between batches; ``why`` says what to store."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Deferred(Exception):
    """A data source's circuit is open: the run waits ``wait`` (a duration: the queue adds it
    to the store's time, not to this host's)."""

    def __init__(self, wait: timedelta, error: RunError) -> None:
        super().__init__(error.message)
        self.wait, self.error = wait, error


class _Attempt:
    """What the attempt knows of its run, kept current by the heartbeat and the engine."""

    def __init__(self, run: Run, stopping: asyncio.Event, clock: Clock, lease: float) -> None:
        self.run, self.stopping, self._clock, self._lease = run, stopping, clock, lease
        self.why: str | None = None
        self.lease_ends = clock.monotonic() + lease
        """When the lease ends as last renewed, on this host's monotonic clock (measured from
        before the renewal was sent, so never later than the store's): past it, the run may
        be another attempt's. The host's wall clock plays no part, so a skewed or stepped
        one cannot make a live attempt give up, nor a paused one write on."""

    def renewed(self, sent_at: float) -> None:
        """A renewal sent at ``sent_at`` (monotonic) was stored."""
        self.lease_ends = sent_at + self._lease

    def lease_left(self) -> float:
        """Seconds until the lease ends (negative once it has)."""
        return self.lease_ends - self._clock.monotonic()

    def moved(self, stream: str, moved: Moved) -> None:
        """The engine's progress callback: note the figures, and stop if asked to."""
        stats = StreamStats(moved.rows, moved.rows, moved.estimate)
        self.run = self.run.progressed(stream, stats)
        self.check()

    def check(self) -> None:
        """Before and after each batch: stop if asked to (cancel, shutdown), or if the lease
        ran out before a renewal came back (a worker paused past it writes no more)."""
        if self.why is None and self.stopping.is_set():
            self.why = "shutdown"
        if self.why is None and self.lease_left() <= 0:
            self.why = "lost"
        if self.why is not None:
            raise _Stop(self.why)


class ExecuteRun:
    """Run a claimed run's attempt to its end; the stored run after it (``None``: the attempt
    lost the run to another and stored nothing)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        connectors: ConnectorFactory,
        secrets: SecretStore,
        queue: RunQueue,
        batch_rows: int,
        retrying: Retrying | None = None,
        heartbeat: float | None = None,
        probe: ProbeDataSource | None = None,
        spans: Spans | None = None,
        metrics: RunMetrics | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        self._uow, self._connectors, self._secrets = uow, connectors, secrets
        self._stall_timeout = stall_timeout
        self._probe = probe
        self._spans = spans or NoSpans()
        self._metrics = metrics or NoRunMetrics()
        self._queue, self._batch_rows, self._retrying = queue, batch_rows, retrying
        lease = queue.lease.total_seconds()
        self._heartbeat = heartbeat if heartbeat is not None else min(lease / 3, 2.0)

    async def __call__(self, run: Run, stopping: asyncio.Event | None = None) -> Run | None:
        """Move every stream of the run's pipeline, then store how it ended."""
        lease = self._queue.lease.total_seconds()
        attempt = _Attempt(run, stopping or asyncio.Event(), self._queue.clock, lease)
        # the claim's lease began before this attempt could measure it (the claim's own
        # transaction, a pause since): a fenced renewal first, whose sending starts the clock,
        # so that a worker paused between its claim and here writes nothing
        sent_at = self._queue.clock.monotonic()
        if await self._queue.renew(run) is None:
            return None
        attempt.renewed(sent_at)
        try:
            async with self._heartbeats(attempt):
                await self._move(attempt)
        except _Stop as stop:
            return await self._stopped(attempt, stop.why)
        except _Deferred as deferred:
            wait, why = deferred.wait, deferred.error
            return await self._store(attempt, lambda: self._queue.defer(attempt.run, wait, why))
        except Superseded as superseded:
            return await self._superseded(attempt, superseded)
        except DomainError as e:
            error = RunError(e.code, str(e), _retryable(e))
            return await self._store(attempt, lambda: self._queue.fail(attempt.run, error))
        # a cancel asked after the last batch comes too late: the work is done
        return await self._store(attempt, lambda: self._queue.succeed(attempt.run))

    async def _superseded(self, attempt: _Attempt, error: Superseded) -> Run | None:
        """A later epoch holds the destination. Mostly another attempt of this run, which
        took it over: this one is over and stores nothing. But when this attempt still holds
        the run, no attempt the control database knows of holds that epoch: the destination
        is ahead of it (the control database was restored from a backup onto a clock
        behind the old one, say). Then the pipeline's epoch is raised past it and the attempt
        fails retryably, so that the next one takes an epoch above and goes on."""
        run = attempt.run
        if error.holder is None or run.epoch is None or error.holder <= run.epoch:
            return None
        if await self._queue.renew(run) is None:
            return None  # the run is another attempt's: it holds the destination
        async with self._uow() as uow:
            await uow.pipelines.raise_epoch(run.organization_id, run.pipeline_id, error.holder)
            await uow.commit()
        failure = RunError(
            error.code,
            f"the destination holds epoch {error.holder}, above this attempt's {run.epoch}, "
            "which the control database never handed out (was it restored from a backup?): "
            "the pipeline's epochs now start above it, and the next attempt goes on",
            retryable=True,
        )
        return await self._store(attempt, lambda: self._queue.fail(attempt.run, failure))

    async def _stopped(self, attempt: _Attempt, why: str) -> Run | None:
        if why == "cancelled":
            return await self._store(attempt, lambda: self._queue.cancelled(attempt.run))
        if why == "shutdown":
            return await self._store(attempt, lambda: self._queue.hand_back(attempt.run))
        return None  # "lost": the run is another attempt's now

    async def _store(
        self, attempt: _Attempt, outcome: Callable[[], Awaitable[Run | None]]
    ) -> Run | None:
        """Store the attempt's outcome, trying again while the control database is away and
        the lease has time left (an attempt that moved every row is not lost to a blip)."""
        while True:
            try:
                return await outcome()
            except DependencyUnavailable:
                if attempt.lease_left() <= _STORE_PAUSE:
                    raise  # the lease ends: the reaper takes the run back
                await asyncio.sleep(_STORE_PAUSE)

    async def _move(self, attempt: _Attempt) -> None:
        run = attempt.run
        async with self._uow() as uow:
            pipeline = await find_pipeline(uow, run.organization_id, run.pipeline_id)
            source = await find_data_source(uow, run.organization_id, pipeline.source_id)
            destination = await find_data_source(uow, run.organization_id, pipeline.destination_id)
        now = self._queue.clock.now()
        for data_source in (source, destination):
            until = data_source.health.open_until
            if until is not None and until > now:  # known down: no attempt burnt on it
                message = f"the data source {data_source.name!r} is unreachable; retried then"
                raise _Deferred(until - now, RunError(CircuitOpen.code, message, True))
        if self._probe is not None:
            await self._probed(source, destination)
        reader, writer = await ends(self._connectors, self._secrets, source, destination)
        assert run.epoch is not None  # noqa: S101 - a claimed run holds its epoch
        kinds = source.kind.value, destination.kind.value

        def written(batch: Written) -> None:
            self._metrics.moved(*kinds, batch.rows, batch.bytes)

        for stream in pipeline.streams:
            described = {
                "thedata.stream.name": stream.name,
                "thedata.stream.mode": stream.mode.value,
            }
            with self._spans.span("stream", described):
                outcome = await move_stream(
                    reader,
                    writer,
                    pipeline=str(pipeline.id),
                    stream=stream,
                    epoch=run.epoch,
                    batch_rows=self._batch_rows,
                    progress=_for(attempt, stream.name),
                    written=written,
                    retrying=self._retrying,
                    before_batch=attempt.check,
                    stall_timeout=self._stall_timeout,
                )
            with contextlib.suppress(DependencyUnavailable):
                # only the API's mirror: the destination holds the position, the next run
                # mirrors it again
                await mirror_state(self._uow, pipeline, stream.name, outcome, run.epoch)

    async def _probed(self, *data_sources: DataSource) -> None:
        """Both ends answer, through their breakers: an open circuit defers the run (no
        attempt spent); a failure counts on the breaker and fails the attempt retryably."""
        assert self._probe is not None  # noqa: S101 - called only with a probe
        probe = self._probe
        answers = await asyncio.gather(*(probe(d) for d in data_sources), return_exceptions=True)
        for data_source, answer in zip(data_sources, answers, strict=True):
            if isinstance(answer, CircuitOpen):
                wait = timedelta(seconds=answer.retry_after)
                message = f"the data source {data_source.name!r} is unreachable; retried then"
                raise _Deferred(wait, RunError(CircuitOpen.code, message, True))
        for data_source, answer in zip(data_sources, answers, strict=True):
            if isinstance(answer, ConnectorFailed):
                raise ConnectorFailed(f"the data source {data_source.name!r}: {answer}")
            if isinstance(answer, BaseException):
                raise answer

    @contextlib.asynccontextmanager
    async def _heartbeats(self, attempt: _Attempt) -> AsyncIterator[None]:
        task = asyncio.create_task(self._beat(attempt))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self, attempt: _Attempt) -> None:
        """Renew the lease and store the figures until cancelled; note a cancel or a loss."""
        while True:
            await asyncio.sleep(self._heartbeat)
            sent_at = self._queue.clock.monotonic()
            try:
                stored = await self._queue.record(attempt.run)
            except DomainError:
                continue  # the database is away for a moment: the lease has time left
            if stored is None:
                attempt.why = "lost"
                return
            attempt.renewed(sent_at)
            if stored.cancel_requested and attempt.why is None:
                attempt.why = "cancelled"


def _retryable(error: DomainError) -> bool:
    """Whether another attempt may succeed: a stream says so itself; an outage (a database,
    a secret store, a data source) may pass; a misconfiguration, a missing pipeline or data
    source, a refused permission will not."""
    if isinstance(error, StreamFailed):
        return error.retryable
    if isinstance(error, ConnectorMisconfigured):
        return False
    return isinstance(error, DependencyUnavailable)


def _for(attempt: _Attempt, stream: str) -> Callable[[Moved], None]:
    return lambda moved: attempt.moved(stream, moved)
