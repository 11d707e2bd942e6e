"""Where the service's log lines go: written whole, one at a time, or a little later in a batch."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from structlog.typing import Processor

Render = Callable[[Any], str]

# Writes of up to this many bytes to a pipe are atomic: several processes sharing one
# (``serve --workers N`` on a container's stderr) never tear each other's lines.
_ATOMIC_WRITE = getattr(select, "PIPE_BUF", 512)


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
    them warm.

    A line written soon waits for its loop's next turn (a thread without a running
    loop writes it at once); if that loop stops before turning again, it waits for the
    next line written, a ``flush`` (the app's shutdown makes one) or the process's
    exit. A line written at once, and a change of stream,
    first write the lines their thread left waiting, so a thread's lines keep their
    order. Nothing is rendered under the lock: a render, or the garbage collector
    during one, may log in turn. A process killed outright loses the lines of the
    loop's current turn; one that ends otherwise writes them at exit.
    """

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.level = logging.INFO
        self.render: list[Processor] = []
        self.json = False  # lines rendered as JSON (else for a console)
        self.lock = threading.Lock()
        self._waiting: list[tuple[Render, Any]] = []
        # where a flush is scheduled: a loop, and the thread it runs in
        self._flush_on: asyncio.AbstractEventLoop | None = None
        self._flush_thread: int | None = None

    def write(self, line: str) -> None:
        """Write ``line`` now, after the lines waiting to be written."""
        if self._waiting:  # unlocked: what this thread left waiting is seen here
            self.flush()
        with self.lock:
            self._write(line + "\n")

    def write_soon(self, render: Render, record: Any) -> None:
        """Write ``render(record)`` at the running event loop's next turn (now, if no loop
        runs in this thread)."""
        thread = threading.get_ident()
        with self.lock:
            self._waiting.append((render, record))
            # A flush is on its way if this thread's running loop scheduled it: asked
            # without ``asyncio.get_running_loop()``, whose check for a fork is a
            # ``getpid`` system call (one per request, measured with strace).
            scheduled = self._flush_on
            if thread == self._flush_thread and scheduled is not None and scheduled.is_running():
                return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        with self.lock:
            self._flush_on, self._flush_thread = loop, thread
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the lines waiting to be written."""
        with self.lock:
            waiting, self._waiting = self._waiting, []
            self._flush_on = self._flush_thread = None
        if waiting:
            text = "".join(_rendered(waiting))
            with self.lock:
                self._write(text)

    def replace_stream(self, stream: TextIO) -> None:
        """From now on write to ``stream``; what waits goes to the old one first."""
        self.flush()
        with self.lock:
            self.stream = stream

    def forget_waiting(self) -> None:
        """In a forked child: the parent writes what was waiting."""
        self._waiting = []
        self._flush_on = self._flush_thread = None
        self.lock = threading.Lock()

    def _write(self, text: str) -> None:
        try:
            for chunk in _atomic_chunks(text):
                self.stream.write(chunk)
                self.stream.flush()
        except Exception:  # noqa: S110 - as logging.Handler.handleError does by default
            pass


def _rendered(waiting: list[tuple[Render, Any]]) -> Iterator[str]:
    for render, record in waiting:
        try:
            yield render(record) + "\n"
        except Exception as e:  # a line that cannot be rendered must not take the batch along
            what = f"a log line could not be rendered ({type(e).__name__})"
            yield json.dumps({"event": what, "level": "error"}) + "\n"


def _atomic_chunks(text: str) -> Iterator[str]:
    """``text`` (lines, each ending in a newline) in pieces of whole lines, each one write
    a pipe takes whole (a longer line alone in its piece)."""
    if len(text) <= _ATOMIC_WRITE // 6 or (text.isascii() and len(text) <= _ATOMIC_WRITE):
        yield text
        return
    piece: list[str] = []
    size = 0
    for line in text[:-1].split("\n"):  # only at newlines: other line breaks stay in lines
        line += "\n"
        # a lone surrogate goes out escaped, as stderr writes it
        length = len(line) if line.isascii() else len(line.encode("utf-8", "backslashreplace"))
        if piece and size + length > _ATOMIC_WRITE:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += length
    if piece:
        yield "".join(piece)


SINK = Sink()
atexit.register(SINK.flush)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SINK.forget_waiting)
