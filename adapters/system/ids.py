"""UUIDv7 identifiers."""

from __future__ import annotations

from uuid import UUID

from uuid_utils.compat import uuid7


class UuidV7IdFactory:
    """Time-ordered ids (RFC 9562 UUIDv7): keyset pages and B-tree inserts follow creation."""

    def new_id(self) -> UUID:
        return uuid7()
