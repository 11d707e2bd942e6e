"""Runs: one execution of a pipeline, from queued to a finished status, across attempts.

A run is queued, claimed by a worker (an attempt: ``attempt`` grows, a lease
is taken and renewed), and ends ``succeeded``, ``failed`` or ``cancelled``.
An attempt that fails retryably, or whose worker lost its lease (it died, or
paused past it), goes back to the queue with a growing delay until
``max_attempts`` are spent; handing a run back on shutdown spends none.
Each attempt that ends leaves an ``AttemptRecord`` (who ran it, when, how it
ended, its figures), so the run's history survives its retries.
Every change is a method returning the changed run, and every illegal one is
``IllegalRunTransition``: the rules live here, the queue only stores them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from uuid import UUID

from attrs import evolve, field, frozen

from thedata.domain.errors import Conflict, NotFound


class RunStatus(enum.Enum):
    """Where a run stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether nothing can change the run any more."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class RunTrigger(enum.Enum):
    """What queued the run."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"


class RunNotFound(NotFound):
    code = "run_not_found"


class RunAlreadyActive(Conflict):
    """The pipeline has a queued or running run already (at most one at a time)."""

    code = "run_already_active"


class RunFinished(Conflict):
    """The run is finished: it cannot be cancelled or changed."""

    code = "run_finished"


class RunNotRetryable(Conflict):
    """Only a failed or cancelled run is retried: an active one is still going (or waits for
    a worker), a succeeded one has nothing to retry."""

    code = "run_not_retryable"


class IllegalRunTransition(Conflict):
    """A change the run's status does not allow (a bug or a lost race, never data)."""

    code = "illegal_run_transition"


@frozen
class RunError:
    """Why an attempt or the run failed, in words safe to show (never a secret)."""

    type: str
    message: str
    retryable: bool = False


LEASE_EXPIRED = "lease_expired"
"""The ``RunError.type`` of an attempt whose worker stopped renewing its lease."""


@frozen
class StreamStats:
    """How far one stream of the run has got."""

    rows_read: int = 0
    rows_written: int = 0
    estimate: int | None = None


class AttemptOutcome(enum.Enum):
    """How one attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """It failed with ``error``; the run was queued again or failed."""
    LEASE_EXPIRED = "lease_expired"
    """Its worker stopped answering (killed, paused, partitioned)."""
    HANDED_BACK = "handed_back"
    """Its worker shut down and queued the run again; the attempt was not spent."""
    DEFERRED = "deferred"
    """A data source's circuit was open; queued again for then, the attempt not spent."""
    CANCELLED = "cancelled"


@frozen
class AttemptRecord:
    """One attempt of a run, once it ended."""

    number: int
    """The attempt's number (a handed back or deferred one's is used again by the next)."""
    worker_id: str | None
    started_at: datetime | None
    ended_at: datetime
    outcome: AttemptOutcome
    error: RunError | None = None
    streams: Mapping[str, StreamStats] = field(factory=dict)


ATTEMPTS_KEPT = 20
"""How many ended attempts a run keeps (the latest): hand-backs and deferrals spend no
attempt, so without a bound a restart loop would grow a run without end."""


@frozen
class Backoff:
    """How long a run waits before its next attempt: ``first``, doubling, at most ``most``."""

    first: timedelta = timedelta(seconds=5)
    most: timedelta = timedelta(minutes=5)

    def after(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th attempt failed (1 for the first)."""
        doubled: timedelta = self.first * (2 ** max(0, attempt - 1))
        return min(self.most, doubled)


@frozen
class Run:
    """One execution of a pipeline (see the module's docstring for its life)."""

    id: UUID
    organization_id: UUID
    pipeline_id: UUID
    trigger: RunTrigger
    queued_at: datetime
    max_attempts: int
    status: RunStatus = RunStatus.QUEUED
    attempt: int = 0
    """Attempts started so far (the current one while running)."""
    not_before: datetime | None = None
    """A queued run is not claimed before this (a retry's backoff)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    epoch: int | None = None
    """The destination epoch the current attempt writes with (taken at its claim)."""
    cancel_requested: bool = False
    streams: Mapping[str, StreamStats] = field(factory=dict)
    error: RunError | None = None
    scheduled_for: datetime | None = None
    """The due time a scheduled run was queued for (at most one run per pipeline and due
    time); ``None`` for a run not queued by the scheduler."""
    attempts: tuple[AttemptRecord, ...] = ()
    """The attempts that ended, oldest first (the latest ``ATTEMPTS_KEPT``); ``streams``
    holds the current or last attempt's figures."""
    trace_parent: str | None = None
    """The trace of the request that queued it (W3C ``traceparent``), when it was traced."""

    @classmethod
    def queued(
        cls,
        run_id: UUID,
        organization_id: UUID,
        pipeline_id: UUID,
        trigger: RunTrigger,
        now: datetime,
        max_attempts: int,
        *,
        scheduled_for: datetime | None = None,
        trace_parent: str | None = None,
    ) -> Run:
        """A new run, waiting for a worker (``scheduled_for``: the due time it was queued for;
        ``trace_parent``: the trace of the request that queued it)."""
        if max_attempts < 1:
            raise ValueError("a run needs at least one attempt")
        return cls(
            run_id,
            organization_id,
            pipeline_id,
            trigger,
            now,
            max_attempts,
            scheduled_for=scheduled_for,
            trace_parent=trace_parent,
        )

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.streams.values())

    @property
    def rows_written(self) -> int:
        return sum(s.rows_written for s in self.streams.values())

    def _expect(self, *statuses: RunStatus) -> None:
        if self.status not in statuses:
            if self.status.finished:
                raise RunFinished(f"run {self.id} is {self.status.value}")
            raise IllegalRunTransition(
                f"run {self.id} is {self.status.value}, not "
                + " or ".join(s.value for s in statuses)
            )

    @property
    def ready_at(self) -> datetime:
        """Since when it may be claimed, once queued: its ``not_before`` (a backoff, a
        deferral, a hand-back) when later than its queuing."""
        if self.not_before is None:
            return self.queued_at
        return max(self.queued_at, self.not_before)

    def claimable(self, now: datetime) -> bool:
        """Whether a worker may take it now."""
        return self.status is RunStatus.QUEUED and (
            self.not_before is None or self.not_before <= now
        )

    def claim(self, worker_id: str, now: datetime, lease: timedelta, epoch: int) -> Run:
        """A worker starts the next attempt, holding the run until ``now + lease``."""
        self._expect(RunStatus.QUEUED)
        if not self.claimable(now):
            raise IllegalRunTransition(f"run {self.id} waits until {self.not_before}")
        return evolve(
            self,
            status=RunStatus.RUNNING,
            attempt=self.attempt + 1,
            started_at=now,
            worker_id=worker_id,
            lease_expires_at=now + lease,
            epoch=epoch,
            error=None,
            streams={},  # this attempt's figures; the last one's are in its record
        )

    def renew(self, now: datetime, lease: timedelta) -> Run:
        """The worker is alive: the lease runs until ``now + lease``."""
        self._expect(RunStatus.RUNNING)
        return evolve(self, lease_expires_at=now + lease)

    def progressed(self, stream: str, stats: StreamStats) -> Run:
        """One stream's figures so far."""
        self._expect(RunStatus.RUNNING)
        return evolve(self, streams={**self.streams, stream: stats})

    def succeeded(self, now: datetime) -> Run:
        """Every stream is moved."""
        self._expect(RunStatus.RUNNING)
        return self._closed(now, AttemptOutcome.SUCCEEDED)._ended(RunStatus.SUCCEEDED, now, None)

    def failed(self, now: datetime, error: RunError, backoff: Backoff) -> Run:
        """The attempt failed: queued again after a wait when the error is retryable and
        attempts are left, else the run fails."""
        self._expect(RunStatus.RUNNING)
        return self._closed(now, AttemptOutcome.FAILED, error)._failed(now, error, backoff)

    def _failed(self, now: datetime, error: RunError, backoff: Backoff) -> Run:
        if error.retryable and self.attempt < self.max_attempts and not self.cancel_requested:
            return self._requeued(now + backoff.after(self.attempt), error)
        return self._ended(RunStatus.FAILED, now, error)

    def lease_lost(self, now: datetime, backoff: Backoff) -> Run:
        """The worker stopped renewing the lease (it died or paused past it): the attempt is
        over, and the run goes back to the queue or fails with ``lease_expired``."""
        self._expect(RunStatus.RUNNING)
        if self.lease_expires_at is None or self.lease_expires_at > now:
            raise IllegalRunTransition(f"run {self.id} is still leased")
        error = RunError(LEASE_EXPIRED, "the worker running it stopped answering", True)
        closed = self._closed(now, AttemptOutcome.LEASE_EXPIRED, error)
        if self.cancel_requested:
            return closed._ended(RunStatus.CANCELLED, now, None)
        return closed._failed(now, error, backoff)

    def handed_back(self, now: datetime) -> Run:
        """The worker stops (shutdown) before finishing: queued again at once, and the attempt
        it spent does not count; a run asked to stop meanwhile is cancelled instead."""
        self._expect(RunStatus.RUNNING)
        if self.cancel_requested:  # asked to stop, and it stopped: that is a cancel
            return self.cancelled(now)
        closed = self._closed(now, AttemptOutcome.HANDED_BACK)
        # claimable at once; ``not_before`` says since when it waits again
        return evolve(closed._requeued(now, self.error), attempt=self.attempt - 1)

    def deferred(
        self, now: datetime, until: datetime, error: RunError, most: timedelta, backoff: Backoff
    ) -> Run:
        """A data source is known to be down (its circuit is open until ``until``): queued
        again for then without spending the attempt, as long as the outage has held the run
        for less than ``most`` (since the first of its latest attempts that ended on this
        same error, deferred or failed); after that each attempt counts as failed with
        ``error`` (queued after ``backoff`` while attempts are left), so an outage ends
        runs in bounded time. Consecutive deferrals of one attempt are one record, whose
        ``started_at`` is when the first began."""
        self._expect(RunStatus.RUNNING)
        if self.cancel_requested:
            return self.cancelled(now)
        if now - self._outage_since(error.type, now) >= most:
            return self.failed(now, error, backoff)
        last = self.attempts[-1] if self.attempts else None
        if last and last.outcome is AttemptOutcome.DEFERRED and last.number == self.attempt:
            record = evolve(last, ended_at=now, error=error, streams=self.streams)
            kept = (*self.attempts[:-1], record)
        else:
            record = AttemptRecord(
                self.attempt, self.worker_id, self.started_at, now, AttemptOutcome.DEFERRED,
                error, self.streams,
            )  # fmt: skip
            kept = (*self.attempts, record)[-ATTEMPTS_KEPT:]
        deferred = evolve(self, attempts=kept)._requeued(until, error)
        return evolve(deferred, attempt=self.attempt - 1)

    def _outage_since(self, error_type: str, now: datetime) -> datetime:
        """When the latest unbroken series of attempts ending on ``error_type`` began (this
        attempt's start if none): store times both, never a host's."""
        since = self.started_at or now
        for record in reversed(self.attempts):
            if record.error is None or record.error.type != error_type:
                break
            since = min(since, record.started_at or record.ended_at)
        return since

    def cancel(self, now: datetime) -> Run:
        """Cancelled at once when queued; a running one is asked to stop at its next batch."""
        self._expect(RunStatus.QUEUED, RunStatus.RUNNING)
        if self.status is RunStatus.QUEUED:
            return self._ended(RunStatus.CANCELLED, now, None)
        return evolve(self, cancel_requested=True)

    def cancelled(self, now: datetime) -> Run:
        """The worker stopped the run as asked."""
        self._expect(RunStatus.RUNNING)
        if not self.cancel_requested:
            raise IllegalRunTransition(f"run {self.id} was not asked to stop")
        return self._closed(now, AttemptOutcome.CANCELLED)._ended(RunStatus.CANCELLED, now, None)

    def _closed(self, now: datetime, outcome: AttemptOutcome, error: RunError | None = None) -> Run:
        """The current attempt recorded as ended with ``outcome``."""
        record = AttemptRecord(
            self.attempt, self.worker_id, self.started_at, now, outcome, error, self.streams
        )
        return evolve(self, attempts=(*self.attempts, record)[-ATTEMPTS_KEPT:])

    def _requeued(self, not_before: datetime | None, error: RunError | None) -> Run:
        return evolve(
            self,
            status=RunStatus.QUEUED,
            not_before=not_before,
            worker_id=None,
            lease_expires_at=None,
            epoch=None,
            error=error,
        )

    def _ended(self, status: RunStatus, now: datetime, error: RunError | None) -> Run:
        return evolve(
            self,
            status=status,
            finished_at=now,
            worker_id=None,
            lease_expires_at=None,
            error=error,
        )
