"""The circuit breaker: every transition with a fake clock, and random runs against a model."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from thedata.domain.circuit_breaker import BreakerSettings, CircuitBreaker, CircuitState

SETTINGS = BreakerSettings(
    failure_rate_threshold=0.5,
    minimum_calls=4,
    window_size=6,
    wait_in_open=30.0,
    permitted_calls_in_half_open=2,
)


def call(breaker: CircuitBreaker, now: float, *, success: bool) -> bool:
    """Acquire and, if allowed, record the outcome; whether the call went ahead."""
    allowed, _ = breaker.acquire(now)
    if allowed:
        breaker.record(now, success=success)
    return allowed


def opened() -> CircuitBreaker:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(4):
        call(breaker, 0.0, success=False)
    return breaker


def test_a_closed_circuit_stays_closed_below_the_minimum_number_of_calls() -> None:
    """Three failures out of three is not enough evidence when four calls are the minimum."""
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(3):
        assert call(breaker, 0.0, success=False)
    assert breaker.state is CircuitState.CLOSED


def test_it_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    """Two failures in four calls is 50%: open, with the reason given."""
    breaker = CircuitBreaker(SETTINGS)
    call(breaker, 0.0, success=True)
    call(breaker, 0.0, success=True)
    call(breaker, 0.0, success=False)
    allowed, _ = breaker.acquire(1.0)
    assert allowed
    transition = breaker.record(1.0, success=False)
    assert breaker.state is CircuitState.OPEN
    assert transition is not None
    assert (transition.before, transition.after) == (CircuitState.CLOSED, CircuitState.OPEN)
    assert "50%" in transition.reason


def test_it_stays_closed_below_the_threshold_and_the_window_slides() -> None:
    """One failure in six stays closed; old outcomes leave the window as new ones come."""
    breaker = CircuitBreaker(SETTINGS)
    for success in (False, True, True, True, True, True):
        call(breaker, 0.0, success=success)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_rate == 1 / 6
    call(breaker, 0.0, success=True)  # the failure slides out
    assert breaker.failure_rate == 0.0


def test_an_open_circuit_refuses_calls_until_the_wait_is_over() -> None:
    """Refused for 30 s; the first call after that finds it half-open."""
    breaker = opened()
    assert breaker.acquire(29.9) == (False, None)
    allowed, transition = breaker.acquire(30.0)
    assert allowed
    assert transition is not None
    assert transition.after is CircuitState.HALF_OPEN


def test_half_open_lets_only_the_permitted_trials_through() -> None:
    """Two trial calls pass; a third waits for their outcome."""
    breaker = opened()
    assert breaker.acquire(30.0)[0]
    assert breaker.acquire(30.0)[0]
    assert breaker.acquire(30.0) == (False, None)


def test_half_open_closes_when_every_trial_succeeds() -> None:
    """Both trials succeed: closed, with an empty window."""
    breaker = opened()
    call(breaker, 30.0, success=True)
    assert breaker.state is CircuitState.HALF_OPEN
    allowed, _ = breaker.acquire(30.0)
    assert allowed
    transition = breaker.record(30.0, success=True)
    assert transition is not None
    assert transition.after is CircuitState.CLOSED
    assert breaker.failure_rate is None


def test_half_open_reopens_on_a_failed_trial_and_waits_again() -> None:
    """One failed trial opens the circuit again, and the wait starts over."""
    breaker = opened()
    call(breaker, 30.0, success=False)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.acquire(59.0)[0]
    assert breaker.acquire(60.0)[0]


def test_an_outcome_arriving_while_open_changes_nothing() -> None:
    """A call admitted before the circuit opened may end after: it is not counted."""
    breaker = CircuitBreaker(SETTINGS)
    assert breaker.acquire(0.0)[0]  # a slow call starts
    for _ in range(4):
        call(breaker, 0.0, success=False)
    assert breaker.record(0.5, success=True) is None
    assert breaker.state is CircuitState.OPEN


class Model:
    """The breaker's rules written out again, plainly, to compare against."""

    def __init__(self) -> None:
        self.state = "closed"
        self.window: list[bool] = []
        self.opened_at = 0.0
        self.trials = 0
        self.passed = 0

    def acquire(self, now: float) -> bool:
        if self.state == "open" and now - self.opened_at >= SETTINGS.wait_in_open:
            self.state, self.trials, self.passed = "half_open", 0, 0
        if self.state == "open":
            return False
        if self.state == "half_open":
            if self.trials == SETTINGS.permitted_calls_in_half_open:
                return False
            self.trials += 1
        return True

    def record(self, now: float, success: bool) -> None:
        if self.state == "half_open":
            if not success:
                self.state, self.opened_at = "open", now
            else:
                self.passed += 1
                if self.passed == SETTINGS.permitted_calls_in_half_open:
                    self.state, self.window = "closed", []
            return
        self.window = [*self.window, success][-SETTINGS.window_size :]
        enough = len(self.window) >= SETTINGS.minimum_calls
        if (
            enough
            and self.window.count(False) / len(self.window) >= SETTINGS.failure_rate_threshold
        ):
            self.state, self.opened_at, self.window = "open", now, []


class BreakerAgainstModel(RuleBasedStateMachine):
    """Random successes, failures and waits: the breaker and the model always agree."""

    def __init__(self) -> None:
        super().__init__()
        self.breaker = CircuitBreaker(SETTINGS)
        self.model = Model()
        self.now = 0.0
        self.pending: list[bool] = []

    @rule(seconds=st.floats(min_value=0, max_value=45))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @rule(success=st.booleans())
    def call_and_finish(self, success: bool) -> None:
        allowed = self.breaker.acquire(self.now)[0]
        assert allowed == self.model.acquire(self.now)
        if allowed:
            self.breaker.record(self.now, success=success)
            self.model.record(self.now, success)

    @rule()
    def start_a_slow_call(self) -> None:
        allowed = self.breaker.acquire(self.now)[0]
        assert allowed == self.model.acquire(self.now)
        if allowed:
            self.pending.append(True)

    @rule(success=st.booleans())
    def finish_a_slow_call(self, success: bool) -> None:
        if self.pending and self.breaker.state is not CircuitState.OPEN:
            self.pending.pop()
            self.breaker.record(self.now, success=success)
            self.model.record(self.now, success)

    @invariant()
    def agrees_with_the_model(self) -> None:
        """Same state after every step."""
        assert self.breaker.state.value == self.model.state


TestBreakerAgainstModel = BreakerAgainstModel.TestCase
TestBreakerAgainstModel.settings = settings(max_examples=300, stateful_step_count=60)
