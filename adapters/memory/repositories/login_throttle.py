"""Sign-in attempt counters in memory (one process only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from thedata.adapters.memory.repositories.tables import Tables


class InMemoryLoginThrottle:
    """Per key: when its window started and how many attempts it holds."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[str, tuple[datetime, int]]:
        return self._tables("login_attempts")

    async def register_attempt(
        self, keys: Sequence[str], now: datetime, limit: int, window: timedelta
    ) -> timedelta | None:
        waits = []
        for key in keys:
            started, attempts = self._rows().get(key, (now, 0))
            if started <= now - window:
                started, attempts = now, 0
            self._rows()[key] = (started, attempts + 1)
            if attempts + 1 > limit:
                waits.append(started + window - now)
        return max(waits) if waits else None

    async def forgive(self, keys: Sequence[str], *, clear: str | None = None) -> None:
        for key in keys:
            if key in self._rows():
                started, attempts = self._rows()[key]
                self._rows()[key] = (started, max(attempts - 1, 0))
        if clear is not None:
            self._rows().pop(clear, None)
