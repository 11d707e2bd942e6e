"""Workers as the queue sees them: who is executing runs, where, and when it last said so."""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import frozen

SILENT_AFTER = timedelta(seconds=30)
"""A worker not heard of for this long is taken for gone (it says it is alive every few
seconds; its runs are safe either way: their leases, not this, decide who holds them)."""


@frozen
class WorkerPresence:
    """One worker process: its name (as in runs' ``worker_id``), host, process id, how many
    runs it may hold at once and holds, when it started and when it was last heard of."""

    id: str
    host: str
    pid: int
    concurrency: int
    runs_held: int
    started_at: datetime
    last_seen_at: datetime

    def live(self, now: datetime, silent_after: timedelta = SILENT_AFTER) -> bool:
        """Whether the worker was heard of recently enough to be taken for alive."""
        return now - self.last_seen_at <= silent_after
