"""Idempotency records in memory."""

from __future__ import annotations

from datetime import datetime

from thedata.adapters.memory.repositories.tables import Tables
from thedata.application.ports import StoredResponse

_Record = tuple[str, datetime, StoredResponse | None]


class InMemoryIdempotencyStore:
    """Records by (scope, key); units of work run one at a time, so a claim never waits."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[tuple[str, str], _Record]:
        return self._tables("idempotency_keys")

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> tuple[str, StoredResponse] | None:
        record = self._rows().get((scope, key))
        if record is None or record[1] <= now:
            self._rows()[(scope, key)] = (fingerprint, expires_at, None)
            return None
        earlier_fingerprint, _, response = record
        if response is None:  # pragma: no cover - saved in the claiming unit of work
            raise RuntimeError("an idempotency record without a response was committed")
        return earlier_fingerprint, response

    async def save(self, scope: str, key: str, response: StoredResponse) -> None:
        fingerprint, expires_at, _ = self._rows()[(scope, key)]
        self._rows()[(scope, key)] = (fingerprint, expires_at, response)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = [key for key, record in self._rows().items() if record[1] <= now][:limit]
        for key in expired:
            del self._rows()[key]
        return len(expired)
