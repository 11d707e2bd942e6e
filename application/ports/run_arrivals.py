"""Word that a run was queued, so an idle worker claims it now rather than at its next poll."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class RunArrivals(Protocol):
    """Tells a worker that runs were queued (by a trigger or a schedule, in any process).

    A hint only: a word may be lost (a reconnect) or be for a run another worker takes;
    workers still poll the queue, which alone decides what they take.
    """

    async def watch(self, arrived: Callable[[], None], stopping: asyncio.Event) -> None:
        """Call ``arrived`` whenever runs were queued, until ``stopping`` is set."""
        ...
