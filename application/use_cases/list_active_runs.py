"""Operators' view of the queue: the runs queued or running in every organization, and
which of them no worker is moving (``thedata runs list [--stuck]``).

A run is stuck when nothing in the system will move it without help:

- running, with a lease that ended longer ago than the reaper needs to take it back: no
  live worker is reaping (every worker reaps every few seconds);
- queued and claimable for longer than the readiness check tolerates: no worker is
  claiming (none runs, or all are full).

Both end by themselves once a worker runs: ``docs/recovery.md`` says what to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from attrs import frozen

from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.runs import Run, RunStatus

REAP_GRACE = timedelta(seconds=30)
"""How long after its lease ends a running run may wait for a reaper before it is stuck:
reapers run every 5 s, so a run past this has none."""


@frozen
class ActiveRun:
    """A queued or running run, and why it is stuck (``None``: it is moving, or waiting its
    turn)."""

    run: Run
    stuck: str | None


@frozen
class ActiveRuns:
    """The runs, oldest queued first, judged at the store's ``now``."""

    now: datetime
    runs: tuple[ActiveRun, ...]


def why_stuck(run: Run, now: datetime, queue_wait: timedelta) -> str | None:
    """Why no worker is moving ``run`` at ``now`` (``None``: nothing is wrong with it)."""
    lease = run.lease_expires_at
    if run.status is RunStatus.RUNNING and lease is not None and lease < now - REAP_GRACE:
        return (
            f"its lease ended {(now - lease).total_seconds():.0f} s ago and no worker took it back"
        )
    if run.status is RunStatus.QUEUED and run.ready_at < now - queue_wait:
        waited = (now - run.ready_at).total_seconds()
        return f"claimable for {waited:.0f} s and no worker took it"
    return None


class ListActiveRuns:
    """The queued and running runs of every organization (``stuck_only``: those no worker
    is moving), at most ``limit``."""

    def __init__(self, uow: UnitOfWorkFactory, queue_wait: timedelta) -> None:
        self._uow, self._queue_wait = uow, queue_wait

    async def __call__(self, *, stuck_only: bool = False, limit: int = 100) -> ActiveRuns:
        async with self._uow().reading() as uow:
            now = await uow.runs.now()
            runs: Sequence[Run]
            if stuck_only:
                runs = await uow.runs.stuck(now - REAP_GRACE, now - self._queue_wait, limit)
            else:
                runs = await uow.runs.active(limit)
        return ActiveRuns(
            now, tuple(ActiveRun(run, why_stuck(run, now, self._queue_wait)) for run in runs)
        )
