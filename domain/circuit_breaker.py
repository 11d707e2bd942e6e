"""A circuit breaker after Resilience4j's model, as a pure state machine.

closed: calls pass; the outcomes of the last ``window_size`` calls are kept,
and once at least ``minimum_calls`` are recorded, a failure rate at or above
``failure_rate_threshold`` opens the circuit.
open: calls are refused until ``wait_in_open`` seconds have passed; then the
next call finds the circuit half-open.
half-open: ``permitted_calls_in_half_open`` trial calls pass; if they all
succeed the circuit closes (with an empty window), one failure opens it again.

Time is a number of seconds passed in by the caller (a monotonic clock), so
every transition can be tested without waiting.
"""

from __future__ import annotations

import enum
from collections import deque

from attrs import define, field, frozen


class CircuitState(enum.Enum):
    """Where the breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@frozen
class BreakerSettings:
    """Resilience4j's knobs (count-based sliding window)."""

    failure_rate_threshold: float = 0.5
    minimum_calls: int = 5
    window_size: int = 10
    wait_in_open: float = 30.0
    permitted_calls_in_half_open: int = 2


@frozen
class Transition:
    """A change of state, for the caller to log or publish."""

    before: CircuitState
    after: CircuitState
    reason: str


@define
class CircuitBreaker:
    """One breaker's state; ``acquire`` before a call, then ``record`` its outcome."""

    settings: BreakerSettings = field(factory=BreakerSettings)
    state: CircuitState = CircuitState.CLOSED
    opened_at: float = 0.0
    _outcomes: deque[bool] = field(init=False)
    _trials_started: int = 0
    _trials_succeeded: int = 0

    def __attrs_post_init__(self) -> None:
        self._outcomes = deque(maxlen=self.settings.window_size)

    def acquire(self, now: float) -> tuple[bool, Transition | None]:
        """Whether a call may go ahead now, and the transition that deciding caused, if any."""
        transition = None
        if self.state is CircuitState.OPEN:
            if now - self.opened_at < self.settings.wait_in_open:
                return False, None
            transition = self._move(CircuitState.HALF_OPEN, "the wait in open state is over")
        if self.state is CircuitState.HALF_OPEN:
            if self._trials_started >= self.settings.permitted_calls_in_half_open:
                return False, transition
            self._trials_started += 1
        return True, transition

    def record(self, now: float, *, success: bool) -> Transition | None:
        """Count a call's outcome; the transition it caused, if any."""
        if self.state is CircuitState.HALF_OPEN:
            if not success:
                return self._open(now, "a trial call failed in half-open state")
            self._trials_succeeded += 1
            if self._trials_succeeded >= self.settings.permitted_calls_in_half_open:
                return self._move(CircuitState.CLOSED, "every trial call succeeded")
            return None
        if self.state is CircuitState.OPEN:
            return None  # a call admitted before the circuit opened has ended
        self._outcomes.append(success)
        if len(self._outcomes) < self.settings.minimum_calls:
            return None
        rate = self._outcomes.count(False) / len(self._outcomes)
        if rate >= self.settings.failure_rate_threshold:
            return self._open(
                now, f"failure rate {rate:.0%} over the last {len(self._outcomes)} calls"
            )
        return None

    @property
    def failure_rate(self) -> float | None:
        """The closed state's failure rate, once ``minimum_calls`` outcomes are known."""
        if len(self._outcomes) < self.settings.minimum_calls:
            return None
        return self._outcomes.count(False) / len(self._outcomes)

    def _open(self, now: float, reason: str) -> Transition:
        self.opened_at = now
        return self._move(CircuitState.OPEN, reason)

    def _move(self, state: CircuitState, reason: str) -> Transition:
        transition = Transition(self.state, state, reason)
        self.state = state
        self._outcomes.clear()
        self._trials_started = self._trials_succeeded = 0
        return transition
