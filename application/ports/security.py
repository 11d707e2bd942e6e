"""Password hashing and credential generation: the cryptography the identity rules need."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """A memory-hard password KDF whose hashes carry their own parameters.

    Implementations run the KDF off the event loop and compare in constant time.
    """

    async def hash(self, password: str) -> str:
        """The encoded hash of ``password`` under the current parameters."""
        ...

    async def verify(self, password: str, encoded: str | None) -> bool:
        """Whether ``password`` matches ``encoded``.

        With ``encoded=None`` (no such account) it spends the same time as a
        real check and answers ``False``, so response times do not reveal
        which emails have accounts.
        """
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with weaker parameters than the current ones."""
        ...


class CredentialGenerator(Protocol):
    """Makes new bearer credentials from a cryptographically secure random source."""

    def access_token(self) -> str:
        """A new access token (``tdt_…``)."""
        ...

    def api_key(self) -> str:
        """A new API key (``tdk_<public id>_…``)."""
        ...
