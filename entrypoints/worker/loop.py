"""The worker loop: reap expired leases, claim runs up to the concurrency, execute them.

It runs in ``thedata worker`` and, unless ``--no-worker``, beside the API in
``thedata serve``. Every few seconds it also reaps runs whose lease expired and
queues the runs of due schedules (``EnqueueDueRuns``: exactly once per due
time, however many workers do it at once), and every minute purges a batch of
expired idempotency records and of runs past their retention. Any number of
workers on any number of hosts share the queue: claims skip runs another holds,
reaping is safe to run everywhere at once. With each reap the worker says it is
alive, with the runs it holds (``thedata workers``, readiness). On stop (SIGTERM), the loop claims
nothing more and the attempts it holds hand their runs back at their next batch
(no attempt spent); those still running after ``grace`` seconds are abandoned
to their leases, which the reaper of any worker takes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from thedata.application.ports.metrics import NoRunMetrics, RunMetrics
from thedata.application.ports.run_arrivals import RunArrivals
from thedata.application.use_cases import (
    EnqueueDueRuns,
    Housekeeping,
    ReportWorkerPresence,
    RunQueue,
)
from thedata.domain.errors import DomainError
from thedata.domain.runs import Run, RunStatus

log = structlog.get_logger("thedata.worker")
SWEEP_EVERY = 60.0
"""Seconds between housekeeping passes (each deletes a batch of what expired)."""

Execute = Callable[[Run, asyncio.Event], Awaitable[Run | None]]
"""Runs one attempt of a claimed run (``ExecuteRun``), stopping when the event is set."""


def worker_id() -> str:
    """This worker's name in runs and logs: host, process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims and executes runs until told to stop."""

    def __init__(
        self,
        queue: RunQueue,
        execute: Execute,
        schedule: EnqueueDueRuns | None = None,
        housekeeping: Housekeeping | None = None,
        presence: ReportWorkerPresence | None = None,
        arrivals: RunArrivals | None = None,
        *,
        metrics: RunMetrics | None = None,
        tracer: Tracer | None = None,
        concurrency: int = 1,
        name: str | None = None,
        poll: float = 1.0,
        reap_every: float = 5.0,
        grace: float = 30.0,
    ) -> None:
        self._queue, self._execute, self._schedule = queue, execute, schedule
        self._housekeeping, self._presence, self._arrivals = housekeeping, presence, arrivals
        self._metrics = metrics or NoRunMetrics()
        self._tracer = tracer
        self._concurrency, self.name = concurrency, name or worker_id()
        self._poll, self._reap_every, self._grace = poll, reap_every, grace
        self._running: set[asyncio.Task[Run | None]] = set()
        self._claims_failing = False
        # set when an attempt ends: a worker at its concurrency claims again at once, rather
        # than after the rest of a poll (which held a busy worker to one run per poll)
        self._freed = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set, then hand back or finish what is held."""
        log.info("worker started", worker=self.name, concurrency=self._concurrency)
        listening = None
        if self._arrivals is not None:  # a queued run wakes the loop, not only the next poll
            listening = asyncio.create_task(self._arrivals.watch(self._freed.set, stopping))
        loop = asyncio.get_running_loop()
        next_reap = next_sweep = loop.time()
        while not stopping.is_set():
            if loop.time() >= next_sweep:
                await self._sweep()
                next_sweep = loop.time() + SWEEP_EVERY
            if loop.time() >= next_reap:  # housekeeping of the queue, every few seconds
                await self._beat()
                await self._reap()
                await self._enqueue_due()
                await self._watch_backlog()
                next_reap = loop.time() + self._reap_every
            self._freed.clear()  # before the count: an attempt ending after it wakes the sleep
            if len(self._running) < self._concurrency and await self._claim(stopping):
                continue  # there may be more right away
            await _sleep_or(self._poll, stopping, self._freed)
        await self._drain()
        if listening is not None:
            await listening
        await self._gone()
        log.info("worker stopped", worker=self.name)

    async def _beat(self) -> None:
        if self._presence is None:
            return
        try:
            await self._presence.beat(
                self.name, socket.gethostname(), os.getpid(), self._concurrency, len(self._running)
            )
        except Exception as e:
            log.warning("could not say this worker is alive; trying again later", error=str(e))

    async def _gone(self) -> None:
        if self._presence is None:
            return
        try:
            await self._presence.gone(self.name)
        except Exception as e:
            log.warning("could not say this worker stopped", error=str(e))

    async def _watch_backlog(self) -> None:
        if isinstance(self._metrics, NoRunMetrics):
            return  # the figures are only for the metrics: no query for nobody
        try:
            backlog = await self._queue.backlog()
        except DomainError as e:
            log.warning("reading the queue's backlog failed; trying again later", error=str(e))
            return
        self._metrics.backlog(backlog.queued, backlog.oldest_wait_seconds)

    async def _reap(self) -> None:
        try:
            for run in await self._queue.reap():
                self._metrics.lease_expired(run)
                log.warning(
                    "run lease expired: re-queued"
                    if not run.status.finished
                    else "run lease expired: attempts spent, failed",
                    run_id=str(run.id),
                    attempt=run.attempt,
                    status=run.status.value,
                )
        except DomainError as e:
            log.warning("reaping failed; trying again later", error=str(e))

    async def _sweep(self) -> None:
        if self._housekeeping is None:
            return
        try:
            purged = await self._housekeeping.sweep()
        except DomainError as e:
            log.warning("housekeeping failed; trying again later", error=str(e))
            return
        if purged.idempotency_records or purged.runs or purged.login_attempts:
            log.info(
                "housekeeping",
                idempotency_records=purged.idempotency_records,
                runs=purged.runs,
                login_attempts=purged.login_attempts,
            )

    async def _enqueue_due(self) -> None:
        if self._schedule is None:
            return
        try:
            for run in await self._schedule.enqueue():
                self._metrics.run_queued(run.trigger.value)
                log.info(
                    "scheduled run queued",
                    run_id=str(run.id),
                    pipeline_id=str(run.pipeline_id),
                    due=run.scheduled_for.isoformat() if run.scheduled_for else None,
                )
        except DomainError as e:
            log.warning("scheduling failed; trying again later", error=str(e))

    async def _claim(self, stopping: asyncio.Event) -> bool:
        try:
            run = await self._queue.claim(self.name)
        except DomainError as e:
            # once per outage, not at every poll: a database down for an hour is one line
            if not self._claims_failing:
                log.warning("claiming failed; trying again at every poll", error=str(e))
            self._claims_failing = True
            return False
        if self._claims_failing:
            log.info("claiming works again")
            self._claims_failing = False
        if run is None:
            return False
        log.info("run claimed", run_id=str(run.id), attempt=run.attempt, epoch=run.epoch)
        self._metrics.attempt_started(run)
        task = asyncio.create_task(self._attempt(run, stopping))
        self._running.add(task)
        task.add_done_callback(self._ended)
        return True

    def _ended(self, task: asyncio.Task[Run | None]) -> None:
        self._running.discard(task)
        self._freed.set()

    async def _attempt(self, run: Run, stopping: asyncio.Event) -> Run | None:
        # the attempt runs in a task of its own, with a copy of the context: every line
        # written in it, by whatever code, names the run and the attempt
        structlog.contextvars.bind_contextvars(run_id=str(run.id), attempt=run.attempt)
        if self._tracer is None:
            return await self._attempted(run, stopping)
        # a trace of its own (an attempt may come hours after its trigger), linked to the
        # trace of the request that queued the run
        with self._tracer.start_as_current_span(
            "run attempt",
            kind=SpanKind.CONSUMER,
            links=_links_to(run.trace_parent),
            attributes={
                "thedata.run.id": str(run.id),
                "thedata.run.attempt": run.attempt,
                "thedata.run.trigger": run.trigger.value,
                "thedata.pipeline.id": str(run.pipeline_id),
            },
        ) as span:
            ended = await self._attempted(run, stopping)
            span.set_attribute("thedata.run.status", ended.status.value if ended else "taken over")
            if ended is None or ended.status is RunStatus.FAILED:
                span.set_status(Status(StatusCode.ERROR))
            return ended

    async def _attempted(self, run: Run, stopping: asyncio.Event) -> Run | None:
        started = time.monotonic()
        try:
            ended = await self._execute(run, stopping)
        except Exception:
            log.exception("the attempt crashed; its lease will expire and the run be retried")
            return None
        if ended is None:
            self._metrics.attempt_refused()
            log.warning("the attempt lost its run to another; it stored nothing")
        else:
            self._metrics.attempt_ended(ended, time.monotonic() - started)
            log.info("run attempt ended", status=ended.status.value)
        return ended

    async def _drain(self) -> None:
        if not self._running:
            return
        log.info("handing back held runs", worker=self.name, runs=len(self._running))
        _, pending = await asyncio.wait(self._running, timeout=self._grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _links_to(trace_parent: str | None) -> list[Link]:
    if trace_parent is None:
        return []
    context = trace.get_current_span(propagate.extract({"traceparent": trace_parent}))
    linked = context.get_span_context()
    return [Link(linked)] if linked.is_valid else []


async def _sleep_or(seconds: float, *events: asyncio.Event) -> None:
    """Sleep ``seconds``, or less if one of ``events`` is set meanwhile."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
