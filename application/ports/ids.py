"""Identifiers, as a port, so tests can name what they create."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class IdFactory(Protocol):
    """Makes identifiers for new entities."""

    def new_id(self) -> UUID:
        """A new, unique, time-ordered id (UUIDv7), so keyset pages follow creation order."""
        ...
