"""Workers' presence as operators and readiness see it: live, silent, forgotten, and the
readiness verdict (never a fail: no restart of an API process brings a worker back)."""

from __future__ import annotations

from datetime import timedelta

from tests.identity import ManualClock
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.application.health import HealthStatus
from thedata.application.use_cases import ListWorkers, ReportWorkerPresence
from thedata.application.workers_check import WorkersCheck


def setup() -> tuple[ManualClock, ReportWorkerPresence, ListWorkers, WorkersCheck]:
    clock = ManualClock()
    store = InMemoryStore(clock=clock)

    def uow() -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(store)

    listed = ListWorkers(uow)
    return clock, ReportWorkerPresence(uow), listed, WorkersCheck(listed, clock)


async def test_readiness_counts_live_workers_and_the_runs_they_hold() -> None:
    _clock, presence, _, check = setup()
    await presence.beat("a", "host-a", 1, 4, 2)
    await presence.beat("b", "host-b", 2, 4, 1)
    (result,) = await check.check()
    assert (result.status, result.observed_value) == (HealthStatus.PASS, 2)
    assert result.output == "2 live"  # not how busy: readiness is public


async def test_no_live_worker_is_a_warning_naming_the_silent_ones() -> None:
    clock, presence, listed, check = setup()
    (result,) = await check.check()
    assert (result.status, result.observed_value) == (HealthStatus.WARN, 0)
    await presence.beat("killed", "host-a", 1, 4, 1)
    clock.advance(timedelta(seconds=31))
    seen = await listed()
    assert [w.id for w in seen.workers] == ["killed"]
    assert seen.live == ()
    (result,) = await check.check()
    assert result.status is HealthStatus.WARN
    assert result.output is not None
    assert "1 silent" in result.output


async def test_a_clean_exit_leaves_at_once_and_a_silent_worker_after_an_hour() -> None:
    clock, presence, listed, _ = setup()
    await presence.beat("stopped", "h", 1, 1, 0)
    await presence.beat("killed", "h", 2, 1, 0)
    await presence.gone("stopped")
    assert [w.id for w in (await listed()).workers] == ["killed"]
    clock.advance(timedelta(minutes=59))
    await presence.beat("new", "h", 3, 1, 0)
    assert {w.id for w in (await listed()).workers} == {"killed", "new"}
    clock.advance(timedelta(minutes=2))
    await presence.beat("new", "h", 3, 1, 0)
    assert [w.id for w in (await listed()).workers] == ["new"]
