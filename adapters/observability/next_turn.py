"""Work put off to the event loop's next turn, once however often it is asked for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


class NextTurn:
    """Calls ``action`` at the running event loop's next turn, once for every request made
    before it runs; where no loop runs in the calling thread, calls it at once.

    What each request leaves (an access line, a request's metrics) is handled together a
    moment later, while the code and data doing it are warm, rather than as each request
    ends. Whether a call is already on its way is told by a thread id and the loop's
    ``is_running()``, without ``asyncio.get_running_loop()``, whose check for a fork is a
    ``getpid`` system call (one per request, measured with strace).
    """

    __slots__ = ("_action", "_loop", "_thread")

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        # where a call is scheduled and has not run yet: a loop, and the thread it runs in
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def soon(self) -> None:
        """Have ``action`` called at this thread's loop's next turn (now, if none runs)."""
        scheduled = self._loop
        if (
            scheduled is not None
            and self._thread == threading.get_ident()
            and scheduled.is_running()
        ):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._action()
            return
        self._loop, self._thread = loop, threading.get_ident()
        loop.call_soon(self._run, loop)

    def forget(self) -> None:
        """In a forked child: the parent's scheduled call is not this process's."""
        self._loop = self._thread = None

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            self._loop = self._thread = None
        self._action()
