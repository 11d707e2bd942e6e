"""Work run while the garbage collector is about to finalize something that logs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable


class _FinalizedLater:
    """Garbage in a reference cycle: only the collector frees it, whenever it next runs
    (as an asyncio future whose exception nobody retrieved)."""

    def __init__(self, finalize: Callable[[], None]) -> None:
        self.me = self
        self.finalize = finalize

    def __del__(self) -> None:
        self.finalize()


def finishes_while_collecting(
    work: Callable[[], None], finalize: Callable[[], None], threshold: int
) -> bool:
    """Run ``work`` in a thread with a collection due after ``threshold`` allocations and
    cyclic garbage whose finalizer calls ``finalize``; whether it finished (within 10 s)
    rather than waiting on itself. Trying thresholds from 1 up puts the collection, and
    so the finalizer, at every point of ``work`` in turn."""

    def run() -> None:
        gc.collect()
        _FinalizedLater(finalize)
        old = gc.get_threshold()
        gc.set_threshold(threshold)
        try:
            work()
        finally:
            gc.set_threshold(*old)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    gc.collect()  # a finalizer still due runs now
    return not thread.is_alive()
