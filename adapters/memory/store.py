"""The data behind every in-memory adapter of one application instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from attrs import Factory, define

from thedata.application.ports.clock import Clock


@define
class InMemoryStore:
    """Named tables of rows, plus the lock that makes units of work serializable.

    Repositories of the memory adapter keep their rows in ``tables[name]``;
    a unit of work works on a copy and swaps it in on commit. ``clock`` is the
    store's own time, as a database server's ``now()`` is (leases are measured
    with it).
    """

    tables: dict[str, dict[Any, Any]] = Factory(dict)
    lock: asyncio.Lock = Factory(asyncio.Lock)
    clock: Clock | None = None

    def now(self) -> datetime:
        """The store's time: ``clock``'s, else the system's."""
        return self.clock.now() if self.clock is not None else datetime.now(UTC)
