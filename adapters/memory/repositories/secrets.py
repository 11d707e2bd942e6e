"""Secrets in memory: the unit of work's writer and the store that reads what was committed.

Values are kept as given, not encrypted: this adapter is for unit tests and
library users without a database, never for production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

from thedata.adapters.memory.repositories.tables import Tables
from thedata.adapters.memory.store import InMemoryStore
from thedata.application.ports import StoredSecret
from thedata.domain.secrets import SecretNotFound, check_reference

# {(organization id, reference): (value, written at)}
SecretRows = dict[tuple[UUID, str], tuple[bytes, datetime]]


def _now() -> datetime:
    return datetime.now(UTC)


class InMemorySecretWriter:
    """Secret changes inside a memory unit of work: published with its commit, like its rows."""

    def __init__(self, tables: Tables, now: Callable[[], datetime] = _now) -> None:
        self._tables, self._now = tables, now

    def _rows(self) -> SecretRows:
        return self._tables("secrets")

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        self._rows()[(organization_id, check_reference(reference))] = (bytes(value), self._now())

    async def delete(self, organization_id: UUID, reference: str) -> None:
        self._rows().pop((organization_id, reference), None)


class InMemorySecretStore:
    """The ``SecretStore`` port over the committed ``secrets`` table of an ``InMemoryStore``.

    Reads see what units of work committed; ``put`` and ``delete`` act at once,
    as the other stores' standalone calls do.
    """

    def __init__(self, store: InMemoryStore, now: Callable[[], datetime] = _now) -> None:
        self._store, self._now = store, now

    def _rows(self) -> SecretRows:
        return self._store.tables.setdefault("secrets", {})

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        self._rows()[(organization_id, check_reference(reference))] = (bytes(value), self._now())

    async def get(self, organization_id: UUID, reference: str) -> bytes:
        row = self._rows().get((organization_id, reference))
        if row is None:
            raise SecretNotFound(f"no secret {reference!r}")
        return row[0]

    async def delete(self, organization_id: UUID, reference: str) -> bool:
        return self._rows().pop((organization_id, reference), None) is not None

    async def references(self, organization_id: UUID) -> Sequence[str]:
        return sorted(reference for org, reference in self._rows() if org == organization_id)

    async def inventory(self) -> Sequence[StoredSecret]:
        return [
            StoredSecret(org, reference, written_at)
            for (org, reference), (_, written_at) in sorted(self._rows().items())
        ]

    def values(self) -> Mapping[tuple[UUID, str], bytes]:
        """Every stored value, for tests that look for a secret where it must not be."""
        return {key: value for key, (value, _) in self._rows().items()}
