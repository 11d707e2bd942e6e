"""Password attempt counters in memory (one process only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from thedata.adapters.memory.repositories.tables import Tables


class InMemoryLoginThrottle:
    """Per key: when its window started and how many attempts it holds."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[str, tuple[datetime, int]]:
        return self._tables("login_attempts")

    async def register_attempt(
        self, limits: Mapping[str, int], now: datetime, window: timedelta
    ) -> timedelta | None:
        counted: dict[str, tuple[datetime, int]] = {}
        waits = []
        for key, limit in limits.items():
            started, attempts = self._rows().get(key, (now, 0))
            if started <= now - window:
                started, attempts = now, 0
            counted[key] = (started, attempts + 1)
            if attempts + 1 > limit:
                waits.append(started + window - now)
        if waits:  # all or nothing: a refused attempt counts on no key
            return max(waits)
        self._rows().update(counted)
        return None

    async def forgive(self, keys: Sequence[str], *, clear: Sequence[str] = ()) -> None:
        for key in keys:
            if key in self._rows():
                started, attempts = self._rows()[key]
                self._rows()[key] = (started, max(attempts - 1, 0))
        for key in clear:
            self._rows().pop(key, None)

    async def known(self, key: str, now: datetime) -> bool:
        until: datetime | None = self._tables("known_clients").get(key)
        return until is not None and until > now

    async def remember(self, key: str, until: datetime) -> None:
        known = self._tables("known_clients")
        known[key] = max(until, known.get(key, until))

    async def purge_expired(self, before: datetime, limit: int) -> int:
        rows = self._rows()
        over = [key for key, (started, _) in rows.items() if started <= before][:limit]
        for key in over:
            del rows[key]
        return len(over)
