"""Keyset pagination: a page is the items after a position, in a fixed order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar
from uuid import UUID

from attrs import frozen

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@frozen
class PageRequest:
    """At most ``limit`` items whose key comes after ``after`` (from the start when ``None``).

    Lists are ordered by a UUIDv7 key, so the order is creation order and a new
    item never shifts the pages a client is walking through.
    """

    limit: int = DEFAULT_PAGE_SIZE
    after: UUID | None = None


@frozen
class Page(Generic[T]):
    """The items of one page and the key to continue after, if more items follow."""

    items: Sequence[T]
    next_after: UUID | None

    @classmethod
    def from_rows(
        cls, rows: Sequence[T], request: PageRequest, key: Callable[[T], UUID]
    ) -> Page[T]:
        """The page from up to ``limit + 1`` rows fetched in order; the extra row means more."""
        items = rows[: request.limit]
        more = len(rows) > request.limit
        return cls(items, key(items[-1]) if more and items else None)
