"""The secret store: where credentials live, encrypted, outside every other table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from attrs import frozen


@frozen
class StoredSecret:
    """A secret's name and when it was last written (never its value)."""

    organization_id: UUID
    reference: str
    written_at: datetime


class SecretStore(Protocol):
    """Encrypted values by (organization, reference).

    Values are bound to their organization and reference: a ciphertext copied
    to another slot does not decrypt. ``get`` raises ``SecretNotFound`` for a
    missing secret and ``SecretUnreadable`` for one that does not decrypt;
    every method raises ``SecretStoreUnavailable`` when the store is unreachable.
    """

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        """Store ``value``, replacing any secret under the same reference."""
        ...

    async def get(self, organization_id: UUID, reference: str) -> bytes:
        """The decrypted value."""
        ...

    async def delete(self, organization_id: UUID, reference: str) -> bool:
        """Forget the secret; ``False`` if there was none."""
        ...

    async def references(self, organization_id: UUID) -> Sequence[str]:
        """The organization's secret references, sorted."""
        ...

    async def inventory(self) -> Sequence[StoredSecret]:
        """Every stored secret's organization, reference and time of writing."""
        ...


class SecretWriter(Protocol):
    """Secret changes that belong to a unit of work: kept with its commit, undone without it.

    A store that shares the unit's transaction (PostgreSQL) makes them atomic
    with the catalog. One that cannot (a file) follows the fresh-reference
    protocol instead: ``put`` writes at once, and only under a reference nothing
    points at yet (``secret_reference`` makes a new one per value); ``delete``
    takes effect after the commit; a unit that does not commit deletes what it
    put. A crash between those steps leaves values nothing points at, never a
    catalog pointing at a missing or wrong value; ``SweepOrphanSecrets`` removes them.
    """

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        """Store ``value`` under a new ``reference``."""
        ...

    async def delete(self, organization_id: UUID, reference: str) -> None:
        """Forget the secret when the unit of work commits."""
        ...


CANARIES_PER_KEY_VERSION = 3


class SecretKeyRotation(Protocol):
    """Moving every stored secret onto the key ring's newest key."""

    async def count_by_key_version(self) -> Mapping[int, int]:
        """How many secrets each key version seals."""
        ...

    async def unreadable_key_versions(self) -> Sequence[int]:
        """The key versions in use that this process's ring cannot open, sorted.

        For each version, up to ``CANARIES_PER_KEY_VERSION`` secrets it sealed are decrypted
        (and thrown away) until one opens: a version none of them opens is named, so a ring
        that lacks a key, or holds another key under its version, shows before a reader
        needs the secret, while one damaged row (the decrypt-failure alert's business) does
        not. A version once opened is not tried again: the ring does not change while the
        process runs.
        """
        ...

    async def reencrypt(self, batch_size: int) -> int:
        """Re-encrypt up to ``batch_size`` secrets not on the newest key; how many it did.

        Each batch is committed on its own, so a crash loses at most the batch
        in flight, and running again carries on. Readers are never blocked.
        """
        ...

    @property
    def current_key_version(self) -> int:
        """The version new and re-encrypted secrets are sealed with."""
        ...
