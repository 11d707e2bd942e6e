"""Decide whether this process can serve traffic now."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from thedata.application.health import CheckResult, HealthReport, HealthStatus
from thedata.application.ports.clock import Clock
from thedata.application.ports.health import HealthCheck

_ABANDONED: set[asyncio.Task[tuple[CheckResult, ...]]] = set()


def _error_name(task: asyncio.Task[tuple[CheckResult, ...]]) -> str:
    return "cancelled" if task.cancelled() else type(task.exception()).__name__


class CheckReadiness:
    """Run every dependency check at once and answer within ``timeout`` seconds.

    A check still running at the deadline is reported as failed and cancelled
    in the background: the answer does not wait for its clean-up, which over a
    silent network can take longer than the check itself (a database driver
    trying to cancel a query on a server that no longer answers).
    """

    def __init__(self, checks: Sequence[HealthCheck], clock: Clock, timeout: float) -> None:
        self._checks = tuple(checks)
        self._clock = clock
        self._timeout = timeout

    async def __call__(self) -> HealthReport:
        """Probe all dependencies concurrently and combine the results."""
        tasks = [asyncio.ensure_future(check.check()) for check in self._checks]
        if tasks:
            await asyncio.wait(tasks, timeout=self._timeout)
        results: list[CheckResult] = []
        for check, task in zip(self._checks, tasks, strict=True):
            if not task.done():
                self._abandon(task)
                results.append(
                    self._failed(check, f"no answer within {self._timeout * 1000:.0f} ms")
                )
            elif task.cancelled() or task.exception() is not None:
                results.append(self._failed(check, f"check error: {_error_name(task)}"))
            else:
                results.extend(task.result())
        return HealthReport.of(tuple(results))

    def _abandon(self, task: asyncio.Task[tuple[CheckResult, ...]]) -> None:
        task.cancel()
        # keep a reference until it ends, or the loop may destroy it mid-clean-up;
        # module-wide, since this use case lives for one request only
        _ABANDONED.add(task)
        task.add_done_callback(_ABANDONED.discard)

    def _failed(self, check: HealthCheck, output: str) -> CheckResult:
        return CheckResult(
            component=check.component,
            measurement="responseTime",
            status=HealthStatus.FAIL,
            time=self._clock.now(),
            output=output,
        )
