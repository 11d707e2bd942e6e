"""Where workers say they are alive, so that operators (and readiness) can see them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from thedata.domain.workers import WorkerPresence


class WorkerRegistry(Protocol):
    """One row per worker process, stamped with the store's time (as leases are)."""

    async def beat(
        self, worker_id: str, host: str, pid: int, concurrency: int, runs_held: int
    ) -> None:
        """The worker is alive now and holds ``runs_held`` runs; its first beat is its start."""
        ...

    async def gone(self, worker_id: str) -> None:
        """The worker stopped cleanly."""
        ...

    async def all(self) -> Sequence[WorkerPresence]:
        """Every worker known, most recently heard of first."""
        ...

    async def forget_silent(self, before: datetime) -> int:
        """Forget workers last heard of before ``before`` (killed ones); how many went."""
        ...
