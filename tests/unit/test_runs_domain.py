"""A run's life, driven at random: no illegal transition is ever accepted, and what a run
says about itself always holds (a hypothesis state machine with its own model)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from thedata.domain.errors import Conflict
from thedata.domain.runs import (
    ATTEMPTS_KEPT,
    LEASE_EXPIRED,
    AttemptOutcome,
    Backoff,
    IllegalRunTransition,
    Run,
    RunError,
    RunFinished,
    RunStatus,
    RunTrigger,
    StreamStats,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
NOT_SPENT = (AttemptOutcome.HANDED_BACK, AttemptOutcome.DEFERRED)
LEASE = timedelta(seconds=30)
BACKOFF = Backoff(timedelta(seconds=5), timedelta(seconds=60))


def new_run(max_attempts: int = 3) -> Run:
    return Run.queued(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), RunTrigger.MANUAL, START, max_attempts
    )


def test_the_backoff_doubles_up_to_its_cap() -> None:
    assert [BACKOFF.after(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_a_retryable_failure_waits_then_the_last_attempt_fails_for_good() -> None:
    run = new_run(max_attempts=2).claim("w1", START, LEASE, epoch=1)
    busy = RunError("stream_failed", "the source is busy", retryable=True)
    again = run.failed(START, busy, BACKOFF)
    assert again.status is RunStatus.QUEUED
    assert again.not_before == START + timedelta(seconds=5)
    assert not again.claimable(START)
    second = again.claim("w2", START + timedelta(seconds=5), LEASE, epoch=2)
    assert second.attempt == 2
    done = second.failed(START, busy, BACKOFF)
    assert done.status is RunStatus.FAILED
    assert done.error == busy


def test_a_lost_lease_requeues_with_the_reason_and_a_hand_back_spends_no_attempt() -> None:
    run = new_run().claim("w1", START, LEASE, epoch=1)
    with pytest.raises(IllegalRunTransition):
        run.lease_lost(START + LEASE - timedelta(seconds=1), BACKOFF)
    lost = run.lease_lost(START + LEASE + timedelta(seconds=1), BACKOFF)
    assert lost.status is RunStatus.QUEUED
    assert lost.error is not None
    assert lost.error.type == LEASE_EXPIRED
    handed = lost.claim("w2", START + timedelta(minutes=5), LEASE, epoch=2).handed_back(START)
    assert handed.attempt == 1
    assert handed.claimable(START + timedelta(minutes=5))


def test_an_outage_defers_an_attempt_as_one_record_then_spends_attempts_until_failed() -> None:
    """Deferred while the outage is younger than two minutes (one record however often),
    then each attempt fails on it at once: the run ends within minutes of the outage's
    start, however long it waited in the queue before."""
    most, down = timedelta(minutes=2), RunError("circuit_open", "down", True)
    run, now = new_run(max_attempts=2), START + timedelta(hours=1)  # queued long ago
    for step in range(3):  # claimed and deferred 3 times over 90 s
        run = run.claim("w", now, LEASE, step + 1)
        run = run.deferred(now, now + timedelta(seconds=30), down, most, BACKOFF)
        now += timedelta(seconds=45)
    (record,) = run.attempts
    assert (record.outcome, record.number, record.started_at) == (
        AttemptOutcome.DEFERRED, 1, START + timedelta(hours=1)
    )  # fmt: skip
    assert (run.status, run.attempt) == (RunStatus.QUEUED, 0)
    run = run.claim("w", now, LEASE, 4).deferred(now, now, down, most, BACKOFF)
    assert (run.status, run.attempt) == (RunStatus.QUEUED, 1)  # 135 s: the attempt is spent
    now += BACKOFF.after(1)
    run = run.claim("w", now, LEASE, 5).deferred(now, now, down, most, BACKOFF)
    assert (run.status, run.attempt) == (RunStatus.FAILED, 2)  # the outage goes on: at once
    assert [a.outcome for a in run.attempts] == [
        AttemptOutcome.DEFERRED, AttemptOutcome.FAILED, AttemptOutcome.FAILED
    ]  # fmt: skip


def test_a_finished_run_cannot_be_cancelled_or_changed() -> None:
    done = new_run().claim("w1", START, LEASE, epoch=1).succeeded(START)
    changes: tuple[Callable[[], Run], ...] = (
        lambda: done.cancel(START),
        lambda: done.renew(START, LEASE),
        lambda: done.claim("w2", START, LEASE, epoch=2),
    )
    for change in changes:
        with pytest.raises(RunFinished):
            change()


class RunMachine(RuleBasedStateMachine):
    """Random calls of every transition at random times; a model says which are legal."""

    def __init__(self) -> None:
        super().__init__()
        self.run = new_run(max_attempts=3)
        self.now = START
        self.epochs = 0
        self.claims = 0
        self.ended_numbers: list[int] = []
        """The model: the number of each attempt that ended, in order (consecutive deferrals
        of one attempt are one)."""
        self.deferred_attempt: int | None = None

    def attempt(self, change: Callable[[], Run], legal: bool, deferring: bool = False) -> None:
        before = self.run
        try:
            after = change()
        except Conflict:
            assert not legal, f"a legal change was refused from {before.status}"
            assert self.run == before
            return
        assert legal, f"an illegal change was accepted from {before.status}"
        assert isinstance(after, Run)
        if before.status is not RunStatus.RUNNING and after.status is RunStatus.RUNNING:
            self.claims += 1
        if before.status is RunStatus.RUNNING and after.status is not RunStatus.RUNNING:
            was_deferred = deferring and after.attempt == before.attempt - 1
            if not (was_deferred and self.deferred_attempt == before.attempt):
                self.ended_numbers.append(before.attempt)
            self.deferred_attempt = before.attempt if was_deferred else None
        self.run = after

    @rule(seconds=st.integers(0, 120))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def claim(self) -> None:
        self.epochs += 1
        legal = self.run.claimable(self.now)
        self.attempt(lambda: self.run.claim("w", self.now, LEASE, self.epochs), legal)

    @rule()
    def renew(self) -> None:
        legal = self.run.status is RunStatus.RUNNING
        self.attempt(lambda: self.run.renew(self.now, LEASE), legal)

    @rule(rows=st.integers(0, 10))
    def progress(self, rows: int) -> None:
        legal = self.run.status is RunStatus.RUNNING
        self.attempt(lambda: self.run.progressed("s", StreamStats(rows, rows)), legal)

    @rule()
    def succeed(self) -> None:
        legal = self.run.status is RunStatus.RUNNING
        self.attempt(lambda: self.run.succeeded(self.now), legal)

    @rule(retryable=st.booleans())
    def fail(self, retryable: bool) -> None:
        legal = self.run.status is RunStatus.RUNNING
        error = RunError("stream_failed", "no", retryable)
        self.attempt(lambda: self.run.failed(self.now, error, BACKOFF), legal)

    @rule()
    def lease_lost(self) -> None:
        run = self.run
        legal = (
            run.status is RunStatus.RUNNING
            and run.lease_expires_at is not None
            and (run.lease_expires_at <= self.now)
        )
        self.attempt(lambda: self.run.lease_lost(self.now, BACKOFF), legal)

    @rule()
    def hand_back(self) -> None:
        legal = self.run.status is RunStatus.RUNNING
        self.attempt(lambda: self.run.handed_back(self.now), legal)

    @rule(seconds=st.integers(1, 120))
    def defer(self, seconds: int) -> None:
        legal = self.run.status is RunStatus.RUNNING
        until = self.now + timedelta(seconds=seconds)
        error = RunError("circuit_open", "down", True)
        most = timedelta(minutes=2)
        self.attempt(
            lambda: self.run.deferred(self.now, until, error, most, BACKOFF), legal, deferring=True
        )

    @rule()
    def cancel(self) -> None:
        legal = self.run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
        self.attempt(lambda: self.run.cancel(self.now), legal)

    @rule()
    def cancelled(self) -> None:
        legal = self.run.status is RunStatus.RUNNING and self.run.cancel_requested
        self.attempt(lambda: self.run.cancelled(self.now), legal)

    @invariant()
    def what_a_run_says_holds(self) -> None:
        run = self.run
        assert 0 <= run.attempt <= run.max_attempts
        running = run.status is RunStatus.RUNNING
        assert (run.worker_id is not None) == running
        assert (run.lease_expires_at is not None) == running
        if running:  # a finished run keeps the epoch its last attempt wrote with
            assert run.epoch is not None
        if run.status is RunStatus.QUEUED:
            assert run.epoch is None
        assert (run.finished_at is not None) == run.status.finished
        if run.status is RunStatus.FAILED:
            assert run.error is not None
        if run.status is RunStatus.SUCCEEDED:
            assert run.error is None
        # every attempt that ended is in the history, and only those the run spent count
        if self.claims <= ATTEMPTS_KEPT:
            assert [a.number for a in run.attempts] == self.ended_numbers
            spent = [a for a in run.attempts if a.outcome not in NOT_SPENT]
            assert len(spent) == run.attempt - (1 if running else 0)
        assert len(run.attempts) <= ATTEMPTS_KEPT
        assert all(a.ended_at >= a.started_at for a in run.attempts if a.started_at)


RunMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40)
TestRunLife = RunMachine.TestCase
