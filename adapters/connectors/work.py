"""Blocking connector work in a thread that stops when it should.

A thread cannot be killed, so the work stops itself: it calls ``Budget.spend``
between bounded steps (a chunk read, a row parsed), which raises once the
deadline has passed or the awaiting task was cancelled (the guard's time limit,
a client gone). The step size, not the file, bounds how long that takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from thedata.application.errors import ConnectorFailed

T = TypeVar("T")


class Stopped(Exception):
    """The work was asked to stop (deadline passed or caller gone); raised inside the thread."""


class Budget:
    """How much longer a piece of blocking work may run, and whether anyone still waits for it."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds
        self._stop = threading.Event()
        self.seconds = seconds

    def stop(self) -> None:
        """Ask the work to stop at its next step (safe from any thread)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Whether the work was asked to stop or ran out of time."""
        return self._stop.is_set() or time.monotonic() > self._deadline

    def spend(self) -> None:
        """Between two bounded steps: raise ``Stopped`` if the work must not go on."""
        if self.stopped:
            raise Stopped


async def run_bounded(work: Callable[[Budget], T], seconds: float) -> T:
    """Run ``work`` in a thread for at most ``seconds``; it stops with the awaiting task.

    Past the deadline: ``ConnectorFailed``. Cancelled: the thread is told to stop
    and the cancellation goes on (the thread ends at its next step).
    """
    budget = Budget(seconds)
    try:
        return await asyncio.to_thread(work, budget)
    except Stopped:
        raise ConnectorFailed(f"no answer within {seconds:g} s") from None
    except asyncio.CancelledError:
        budget.stop()
        raise
