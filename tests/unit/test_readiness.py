"""Readiness rules: the worst check decides, and the answer never waits past its deadline."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from thedata.application.health import CheckResult, HealthReport, HealthStatus
from thedata.application.use_cases import CheckReadiness

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FixedClock:
    """A clock that stands still, for results with predictable times."""

    def now(self) -> datetime:
        return T0

    def monotonic(self) -> float:
        return 0.0


def result(status: HealthStatus, component: str = "db") -> CheckResult:
    return CheckResult(component=component, measurement="m", status=status, time=T0)


class StubCheck:
    """A check that answers ``status`` after ``delay`` seconds, or raises ``error``."""

    def __init__(
        self,
        status: HealthStatus = HealthStatus.PASS,
        delay: float = 0.0,
        error: BaseException | None = None,
        stubborn: bool = False,
    ) -> None:
        self.component = "stub"
        self._status, self._delay, self._error, self._stubborn = status, delay, error, stubborn

    async def check(self) -> tuple[CheckResult, ...]:
        if self._stubborn:
            # like a driver cleaning up after cancellation: cancelling takes a while
            await asyncio.shield(asyncio.sleep(self._delay))
        await asyncio.sleep(self._delay)
        if self._error is not None:
            raise self._error
        return (result(self._status, self.component),)


statuses = st.sampled_from(list(HealthStatus))


@given(st.lists(statuses, max_size=8))
def test_the_report_is_as_healthy_as_its_worst_check(found: list[HealthStatus]) -> None:
    """Any fail makes the report fail; else any warn makes it warn; else (or empty) it passes."""
    report = HealthReport.of(tuple(result(s) for s in found))
    if HealthStatus.FAIL in found:
        assert report.status is HealthStatus.FAIL
    elif HealthStatus.WARN in found:
        assert report.status is HealthStatus.WARN
    else:
        assert report.status is HealthStatus.PASS
    assert len(report.checks) == len(found)


async def test_every_check_result_is_reported() -> None:
    """Results of all checks appear, and one warning makes the whole report warn."""
    use_case = CheckReadiness(
        [StubCheck(HealthStatus.PASS), StubCheck(HealthStatus.WARN)], FixedClock(), timeout=1
    )
    report = await use_case()
    assert report.status is HealthStatus.WARN
    assert [c.status for c in report.checks] == [HealthStatus.PASS, HealthStatus.WARN]


async def test_a_check_past_the_deadline_fails_without_holding_the_answer() -> None:
    """A hanging check is a fail saying so, and the answer comes at the deadline, not later."""
    use_case = CheckReadiness(
        [StubCheck(delay=30, stubborn=True), StubCheck()], FixedClock(), timeout=0.05
    )
    started = time.perf_counter()
    report = await use_case()
    assert time.perf_counter() - started < 1.0, "the slow clean-up must not delay the answer"
    assert report.status is HealthStatus.FAIL
    assert report.checks[0].output == "no answer within 50 ms"
    assert report.checks[1].status is HealthStatus.PASS


async def test_a_check_that_raises_is_a_fail_not_a_crash() -> None:
    """A bug in a check is reported as that check failing; the endpoint still answers."""
    use_case = CheckReadiness([StubCheck(error=KeyError("x"))], FixedClock(), timeout=1)
    report = await use_case()
    assert report.status is HealthStatus.FAIL
    assert report.checks[0].output == "check error: KeyError"


async def test_no_checks_means_ready() -> None:
    """A process with no dependencies to check is ready."""
    assert (await CheckReadiness([], FixedClock(), timeout=1)()).status is HealthStatus.PASS


async def test_a_check_that_was_cancelled_is_a_fail_not_a_crash() -> None:
    """A check cancelled from elsewhere (a driver shutting down) fails; the endpoint answers."""
    use_case = CheckReadiness([StubCheck(error=asyncio.CancelledError())], FixedClock(), timeout=1)
    report = await use_case()
    assert report.status is HealthStatus.FAIL
    assert report.checks[0].output == "check error: cancelled"
