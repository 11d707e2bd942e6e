"""Readiness on the run queue: a warning (never a fail) once a queued run waits too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from tests.identity import ManualClock
from thedata.application.errors import DependencyUnavailable
from thedata.application.health import HealthStatus
from thedata.application.ports import RunBacklog
from thedata.application.queue_check import QueueCheck

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Store:
    """The two things the check asks of a unit of work's runs."""

    def __init__(self, backlog: RunBacklog | Exception) -> None:
        self.backlog_now = backlog

    async def now(self) -> datetime:
        return NOW

    async def backlog(self, now: datetime) -> RunBacklog:
        if isinstance(self.backlog_now, Exception):
            raise self.backlog_now
        return self.backlog_now


class Uow:
    def __init__(self, store: Store) -> None:
        self.runs = store

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def check(backlog: RunBacklog | Exception) -> QueueCheck:
    store = Store(backlog)
    return QueueCheck(lambda: Uow(store), ManualClock(), warn_after=300)  # type: ignore[arg-type, return-value]


async def test_an_empty_queue_passes() -> None:
    (result,) = await check(RunBacklog(0, None)).check()
    assert (result.status, result.observed_value, result.output) == (
        HealthStatus.PASS,
        0.0,
        "0 runs queued",
    )


async def test_a_run_waiting_longer_than_allowed_is_a_warning_by_the_store_s_clock() -> None:
    waited = await check(RunBacklog(7, NOW - timedelta(seconds=301))).check()
    fresh = await check(RunBacklog(7, NOW - timedelta(seconds=300))).check()
    assert (waited[0].status, waited[0].observed_value) == (HealthStatus.WARN, 301.0)
    assert "7 runs queued, the oldest for 301 s" in (waited[0].output or "")
    assert fresh[0].status is HealthStatus.PASS


async def test_an_unreachable_queue_is_unknown_not_a_failure() -> None:
    (result,) = await check(DependencyUnavailable("the database is unavailable")).check()
    assert (result.status, result.observed_value) == (HealthStatus.WARN, None)
