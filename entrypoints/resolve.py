"""Gets a value out of a container provider, whether or not it has to wait for it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


async def resolve(provider: Callable[[], T]) -> T:
    """Call ``provider`` and await the result only if it is awaitable.

    Providers downstream of an async resource (the database pool) hand out
    awaitables; overrides with plain fakes do not. Callers need not care which.
    """
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    return cast(T, value)


async def maybe_await(value: Awaitable[Any] | None) -> None:
    """Await ``value`` when it is awaitable (container lifecycle calls return one or None)."""
    if value is not None and inspect.isawaitable(value):
        await value
