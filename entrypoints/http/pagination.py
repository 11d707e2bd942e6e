"""Cursor pagination for every list: ``?limit=&cursor=`` → ``{items, next_cursor}``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from litestar.params import QueryParameter

from thedata.domain.errors import FieldError, InvalidInput
from thedata.domain.pagination import MAX_PAGE_SIZE, Page, PageRequest

T = TypeVar("T")
P = TypeVar("P")

# A cursor is the last item's id and a digest of it. It grants nothing (every
# list is filtered by the caller's rights), so the digest only has to catch a
# cursor that was edited or cut short, and turn it into a clear 400.
_DIGEST_BYTES = 6


def _digest(position: bytes) -> bytes:
    return hashlib.blake2b(position, digest_size=_DIGEST_BYTES, person=b"thedata.cursor").digest()


def encode_cursor(after: uuid.UUID | None) -> str | None:
    """The opaque cursor for the page after ``after`` (``None``: there is no next page)."""
    if after is None:
        return None
    return base64.urlsafe_b64encode(after.bytes + _digest(after.bytes)).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """The position a cursor from ``encode_cursor`` holds; ``InvalidInput`` if it was altered."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    position, digest = raw[:16], raw[16:]
    if len(position) != 16 or digest != _digest(position):
        message = "not a cursor this API returned; start again without one"
        raise InvalidInput("the cursor is invalid", [FieldError("cursor", message)])
    return uuid.UUID(bytes=position)


Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (1..{MAX_PAGE_SIZE}).")
]
# the base64url of a position and its digest (22 bytes), without padding
_CURSOR_LENGTH = 30
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=_CURSOR_LENGTH,
        max_length=_CURSOR_LENGTH,
        pattern=f"^[A-Za-z0-9_-]{{{_CURSOR_LENGTH}}}$",
        description="`next_cursor` of the previous page (any other value is a 400).",
    ),
]


def page_request(limit: int, cursor: str | None) -> PageRequest:
    """The page a list request asks for, from its ``limit`` and ``cursor`` query parameters.

    Every list handler takes those two as its own parameters rather than as a dependency:
    Litestar resolves the dependencies of one level side by side, in a task group, which cost
    a list request more than its pagination did, and logged the cancelled one as an asyncio
    error whenever the other failed (a bad cursor beside a bad token).
    """
    return PageRequest(limit, decode_cursor(cursor) if cursor is not None else None)


def page_body(page_type: Callable[..., P], page: Page[T], to_body: Callable[[T], Any]) -> P:
    """The ``{items, next_cursor}`` body of a page, each item shown with ``to_body``."""
    items = [to_body(item) for item in page.items]
    return page_type(items=items, next_cursor=encode_cursor(page.next_after))
