"""The secret store: where credentials live, encrypted, outside every other table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from uuid import UUID


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


class SecretKeyRotation(Protocol):
    """Moving every stored secret onto the key ring's newest key."""

    async def count_by_key_version(self) -> Mapping[int, int]:
        """How many secrets each key version seals."""
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
