"""Argon2id password hashing with argon2-cffi, off the event loop."""

from __future__ import annotations

import asyncio

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for Argon2id (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_ITERATIONS = 2
OWASP_PARALLELISM = 1


class Argon2PasswordHasher:
    """Hashes carry their parameters (``$argon2id$v=19$m=…,t=…,p=…$…``), so raising the
    parameters later only needs a rehash at the next sign-in (``needs_rehash``).

    The KDF runs in a worker thread: argon2-cffi releases the GIL, so other
    requests keep being served while a password is hashed.
    """

    def __init__(
        self,
        memory_kib: int = OWASP_MEMORY_KIB,
        iterations: int = OWASP_ITERATIONS,
        parallelism: int = OWASP_PARALLELISM,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=iterations,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # verified against when the account does not exist, so that costs the same
        self._decoy = self._hasher.hash("no such account: spend the time of a real check")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password: str, encoded: str | None) -> bool:
        return await asyncio.to_thread(self._verify, password, encoded)

    def _verify(self, password: str, encoded: str | None) -> bool:
        try:
            # argon2 compares the derived key in constant time
            return self._hasher.verify(encoded or self._decoy, password) and encoded is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True
