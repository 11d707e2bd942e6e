"""Where the service's log lines go: written whole, one at a time, or a little later in a batch."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from structlog.typing import Processor

Render = Callable[[Any], str]


class Sink:
    """The stream and what passes: set by ``configure_logging``, read at each line (loggers
    are cached on first use, so they must not hold either).

    A line is written whole whichever thread writes it, and a stream that cannot take
    it (a broken pipe, a full disk) loses the line rather than failing what it
    describes. ``write_soon`` is for the line every request writes: rendered and
    written with the others of the same turn of the event loop, right after it.
    Rendering each access line as its request ended cost four times as much as
    rendering them together a moment later (measured in the server under load:
    about 20 µs of CPU against 5, a sixth of a request to ``/health/live``): by the
    end of a request the renderer's code and data have gone cold, and a batch keeps
    them warm. A line waits one turn of the loop at most; every line written at
    once, and a change of stream, writes the waiting ones first, so lines keep their
    order.
    """

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.level = logging.INFO
        self.render: list[Processor] = []
        self.json = False  # lines rendered as JSON (else for a console)
        self.lock = threading.Lock()
        self._waiting: list[tuple[Render, Any]] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # where a flush is scheduled

    def write(self, line: str) -> None:
        """Write ``line`` now, after the lines waiting to be written."""
        with self.lock:
            text = self._waiting_text() + line + "\n" if self._waiting else line + "\n"
            self._write(text)

    def write_soon(self, render: Render, record: Any) -> None:
        """Write ``render(record)`` at the running event loop's next turn (now, if no loop
        runs in this thread); ``render`` must not raise."""
        with self.lock:
            self._waiting.append((render, record))
            scheduled = self._flush_on
            if scheduled is not None and scheduled.is_running():
                return  # a flush is on its way, on this loop or another thread's
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None:
                self._write(self._waiting_text())
                return
            self._flush_on = loop
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the lines waiting to be written."""
        with self.lock:
            if self._waiting:
                self._write(self._waiting_text())

    def replace_stream(self, stream: TextIO) -> None:
        """From now on write to ``stream``; what waits goes to the old one first."""
        with self.lock:
            if self._waiting:
                self._write(self._waiting_text())
            self.stream = stream

    def forget_waiting(self) -> None:
        """In a forked child: the parent writes what was waiting."""
        self._waiting = []
        self._flush_on = None
        self.lock = threading.Lock()

    def _waiting_text(self) -> str:
        waiting, self._waiting, self._flush_on = self._waiting, [], None
        return "".join(render(record) + "\n" for render, record in waiting)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # noqa: S110 - as logging.Handler.handleError does by default
            pass


SINK = Sink()
atexit.register(SINK.flush)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SINK.forget_waiting)
