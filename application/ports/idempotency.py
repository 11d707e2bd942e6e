"""Stored responses of creating requests, so that a retried request creates nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from attrs import frozen


@frozen
class StoredResponse:
    """What the first request with an idempotency key was answered with."""

    status: int
    body: bytes


class IdempotencyStore(Protocol):
    """Idempotency records, written in the same unit of work as what they protect."""

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> tuple[str, StoredResponse] | None:
        """Reserve ``key`` for this request, or return the live record that already holds it.

        ``None`` means the key is now this unit of work's; a concurrent unit of
        work claiming the same key waits until this one ends. Otherwise the
        answer is the earlier request's fingerprint and response. An expired
        record is replaced.
        """
        ...

    async def save(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of the request that claimed ``key``."""
        ...

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` records expired by ``now``; how many went."""
        ...
