"""The guard around connector calls: breaker, time limit, one call in flight."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from tests.identity import ManualClock
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.errors import CircuitOpen, ConnectorFailed
from thedata.domain.circuit_breaker import BreakerSettings, CircuitState, Transition

SOURCE = uuid.UUID(int=7)
SETTINGS = BreakerSettings(minimum_calls=3, window_size=5, wait_in_open=30.0)


class Dead:
    """A data source that fails every call, counting the attempts that reached it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.attempts = 0
        self.delay = delay

    async def __call__(self) -> None:
        self.attempts += 1
        await asyncio.sleep(self.delay)
        raise ConnectorFailed("connection refused")


def guard(clock: ManualClock, timeout: float = 1.0) -> tuple[ConnectorGuard, list[Transition]]:
    transitions: list[Transition] = []
    return ConnectorGuard(
        clock, SETTINGS, timeout, lambda _id, _kind, t: transitions.append(t)
    ), transitions


async def test_fifty_concurrent_checks_make_one_attempt() -> None:
    """Identical calls in flight share one real call, and all see its failure."""
    dead = Dead(delay=0.05)
    checks, _ = guard(ManualClock())
    outcomes = await asyncio.gather(
        *(checks.call(SOURCE, "check", dead) for _ in range(50)), return_exceptions=True
    )
    assert dead.attempts == 1
    assert all(isinstance(o, ConnectorFailed) for o in outcomes)


async def test_after_enough_failures_calls_are_refused_without_an_attempt() -> None:
    """Three failures open the circuit; the next calls fail at once and reach nothing."""
    clock = ManualClock()
    dead = Dead()
    checks, transitions = guard(clock)
    for _ in range(3):
        with pytest.raises(ConnectorFailed):
            await checks.call(SOURCE, "check", dead)
    assert [t.after for t in transitions] == [CircuitState.OPEN]
    with pytest.raises(CircuitOpen) as refused:
        await checks.call(SOURCE, "check", dead)
    assert dead.attempts == 3
    assert refused.value.retry_after == 30
    assert checks.outcome(SOURCE).open_until == clock.now() + timedelta(seconds=30)


async def test_the_circuit_half_opens_after_the_wait_and_closes_on_success() -> None:
    """After 30 s trial calls pass; two successes close the circuit."""
    clock = ManualClock()
    checks, transitions = guard(clock)
    for _ in range(3):
        with pytest.raises(ConnectorFailed):
            await checks.call(SOURCE, "check", Dead())
    clock.advance(timedelta(seconds=30))

    async def healthy() -> str:
        return "ok"

    assert await checks.call(SOURCE, "check", healthy) == "ok"
    assert await checks.call(SOURCE, "check", healthy) == "ok"
    assert [t.after for t in transitions] == [
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


async def test_a_call_over_the_time_limit_fails_and_counts() -> None:
    """A hanging source is a failure after the limit, not a hanging request."""
    checks, _ = guard(ManualClock(), timeout=0.05)

    async def hangs() -> None:
        await asyncio.sleep(10)

    with pytest.raises(ConnectorFailed, match=r"no answer within 0\.05 s"):
        await checks.call(SOURCE, "check", hangs)


async def test_a_circuit_another_process_opened_is_respected() -> None:
    """A stored open_until in the future refuses the call here too, without an attempt."""
    clock = ManualClock()
    dead = Dead()
    checks, _ = guard(clock)
    until = clock.now() + timedelta(seconds=12)
    with pytest.raises(CircuitOpen) as refused:
        await checks.call(SOURCE, "check", dead, open_elsewhere_until=until)
    assert dead.attempts == 0
    assert refused.value.retry_after == 12


async def test_sources_have_separate_circuits() -> None:
    """One dead source does not refuse calls to another."""
    checks, _ = guard(ManualClock())
    for _ in range(3):
        with pytest.raises(ConnectorFailed):
            await checks.call(SOURCE, "check", Dead())

    async def healthy() -> str:
        return "ok"

    assert await checks.call(uuid.UUID(int=8), "check", healthy) == "ok"


async def test_a_caller_giving_up_does_not_cancel_the_shared_attempt() -> None:
    """The first caller is cancelled (its client left); the others still get the result."""
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "ok"

    checks, _ = guard(ManualClock(), timeout=5)
    first = asyncio.create_task(checks.call(SOURCE, "check", slow))
    await started.wait()
    second = asyncio.create_task(checks.call(SOURCE, "check", slow))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "ok"
    assert calls == 1
    assert first.cancelled()


async def test_open_breakers_are_counted_by_kind_only_while_they_pause() -> None:
    """For the open-breakers gauge: a breaker whose pause is over lets the next call
    through, so it no longer counts, even if no call comes (a quiet or deleted source)."""
    clock = ManualClock()
    checks, _ = guard(clock)
    for source, kind in ((SOURCE, "postgres"), (uuid.uuid4(), "file")):
        for _ in range(3):
            with pytest.raises(ConnectorFailed):
                await checks.call(source, "check", Dead(), kind=kind)
    assert checks.open_by_kind() == {"postgres": 1, "file": 1}
    clock.advance(timedelta(seconds=SETTINGS.wait_in_open + 1))
    assert checks.open_by_kind() == {}
