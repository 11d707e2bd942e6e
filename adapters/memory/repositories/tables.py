"""How memory repositories reach their unit of work's tables, and page through them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from thedata.domain.pagination import Page, PageRequest

T = TypeVar("T")

Tables = Callable[[str], dict[Any, Any]]
"""The working copy of a named table of the active unit of work."""


def page_of(items: Iterable[T], page: PageRequest, key: Callable[[T], UUID]) -> Page[T]:
    """The page of ``items`` in key order, as a database would cut it."""
    ordered = sorted((i for i in items if page.after is None or key(i) > page.after), key=key)
    return Page.from_rows(ordered[: page.limit + 1], page, key)
