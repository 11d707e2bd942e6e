"""Housekeeping of the control database: what only grows with use is purged in small batches.

Expired idempotency records, password attempt counters whose window is over,
and runs finished longer ago than the retention go a batch per call, each call
its own transaction (no long lock, no big delete); the worker loop calls it
every minute, in every worker at once (rows another worker is deleting are
skipped).
"""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen

from thedata.application.ports import Clock, UnitOfWorkFactory


@frozen
class Purged:
    """What one pass deleted."""

    idempotency_records: int
    runs: int
    login_attempts: int


class Housekeeping:
    """Purges expired idempotency records, runs finished before ``run_retention`` ago, and
    password attempt counters whose ``login_window`` (the sign-in throttle's) is over."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        run_retention: timedelta,
        login_window: timedelta,
        batch: int = 500,
    ) -> None:
        self._uow, self._clock = uow, clock
        self._retention, self._login_window, self._batch = run_retention, login_window, batch

    async def sweep(self) -> Purged:
        """One batch of each; call again while anything went."""
        now = self._clock.now()
        async with self._uow() as uow:
            records = await uow.idempotency.purge_expired(now, self._batch)
            runs = await uow.runs.purge_finished(now - self._retention, self._batch)
            attempts = await uow.login_throttle.purge_expired(now - self._login_window, self._batch)
            await uow.commit()
        return Purged(records, runs, attempts)
