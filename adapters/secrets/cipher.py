"""AES-256-GCM sealing of secrets, each bound to its organization and reference."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from uuid import UUID

import structlog
from attrs import frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from thedata.adapters.secrets.key_ring import KeyRing
from thedata.application.errors import SecretUnreadable

NONCE_BYTES = 12  # 96 bits, random per encryption (NIST SP 800-38D)
_CONTEXT = b"thedata.secret.v1"

log = structlog.get_logger(__name__)


def associated_data(organization_id: UUID, reference: str) -> bytes:
    """What a ciphertext is bound to: copied to another organization or reference, it fails."""
    return b"\0".join([_CONTEXT, organization_id.bytes, reference.encode()])


@frozen
class SealedSecret:
    """A secret at rest: the key version that sealed it, its nonce, ciphertext and tag."""

    key_version: int
    nonce: bytes
    ciphertext: bytes


class SecretCipher:
    """Seals with the ring's newest key and opens with whichever key sealed.

    ``on_plaintext`` hears every value sealed or opened, so the log redactor can
    mask it wherever it might later turn up; ``on_failure`` hears why a secret did not
    open (``unknown_key_version`` or ``failed_authentication``), to be counted.
    """

    def __init__(
        self,
        key_ring: KeyRing,
        on_plaintext: Callable[[bytes], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._ring = key_ring
        self._aead = {version: AESGCM(key) for version, key in key_ring.keys.items()}
        self._on_plaintext = on_plaintext or (lambda _: None)
        self._on_failure = on_failure or (lambda _: None)

    @property
    def current_key_version(self) -> int:
        """The version that seals new secrets."""
        return self._ring.current

    def seal(self, organization_id: UUID, reference: str, value: bytes) -> SealedSecret:
        """Encrypt ``value`` for this organization and reference."""
        self._on_plaintext(value)
        nonce = os.urandom(NONCE_BYTES)
        version = self._ring.current
        ciphertext = self._aead[version].encrypt(
            nonce, value, associated_data(organization_id, reference)
        )
        return SealedSecret(version, nonce, ciphertext)

    def open(self, organization_id: UUID, reference: str, sealed: SealedSecret) -> bytes:
        """Decrypt and authenticate; ``SecretUnreadable`` rather than a wrong value."""
        aead = self._aead.get(sealed.key_version)
        if aead is None:
            log.error(
                "secret sealed with an unknown key version",
                organization_id=str(organization_id),
                reference=reference,
                key_version=sealed.key_version,
            )
            self._on_failure("unknown_key_version")
            raise SecretUnreadable(
                f"the secret {reference!r} is sealed with key version {sealed.key_version}, "
                "which the key ring does not hold"
            )
        try:
            value = aead.decrypt(
                sealed.nonce, sealed.ciphertext, associated_data(organization_id, reference)
            )
        except (InvalidTag, ValueError):
            log.error(
                "secret failed authentication",
                organization_id=str(organization_id),
                reference=reference,
                key_version=sealed.key_version,
            )
            self._on_failure("failed_authentication")
            raise SecretUnreadable(
                f"the secret {reference!r} does not decrypt: it was altered, moved, or "
                "sealed with another key of the same version"
            ) from None
        self._on_plaintext(value)
        return value

    def opens(self, organization_id: UUID, reference: str, sealed: SealedSecret) -> bool:
        """Whether ``sealed`` decrypts, quietly: a health probe's question, not a reader's, so
        neither logged nor counted as a decrypt failure, and the value is never kept."""
        aead = self._aead.get(sealed.key_version)
        if aead is None:
            return False
        try:
            aead.decrypt(
                sealed.nonce, sealed.ciphertext, associated_data(organization_id, reference)
            )
        except (InvalidTag, ValueError):
            return False
        return True

    def opens_any(self, sealed: Iterable[tuple[UUID, str, SealedSecret]]) -> bool:
        """Whether any of these (organization, reference, sealed) decrypts (``opens``)."""
        return any(self.opens(organization_id, ref, s) for organization_id, ref, s in sealed)

    def reseal(self, organization_id: UUID, reference: str, sealed: SealedSecret) -> SealedSecret:
        """The same secret sealed again with the newest key."""
        return self.seal(organization_id, reference, self.open(organization_id, reference, sealed))
