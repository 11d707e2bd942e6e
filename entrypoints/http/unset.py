"""Optional fields of PATCH bodies: absent means "leave as is", and null is refused."""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")


def or_none(value: T | msgspec.UnsetType) -> T | None:
    """The field's value, or ``None`` when the client left it out."""
    return None if isinstance(value, msgspec.UnsetType) else value
