"""Where the service's log lines go: written whole and in order, some a little later in a batch."""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from structlog.typing import Processor

from thedata.adapters.observability.next_turn import NextTurn

Render = Callable[[Any], str]

# Writes of up to this many bytes to a pipe are atomic: several processes sharing one
# (``serve --workers N`` on a container's stderr) never tear each other's lines.
_ATOMIC_WRITE = getattr(select, "PIPE_BUF", 512)


def _as_is(line: str) -> str:
    return line


class Sink:
    """The stream and what passes: set by ``configure_logging``, read at each line (loggers
    are cached on first use, so they must not hold either).

    Every line joins one queue, and one thread at a time (the drainer) renders and
    writes what is queued, in order, until the queue is empty; a thread that finds
    another draining leaves its line to it. So lines keep the order they were written
    in, whichever thread writes them, and nothing waits on a lock while rendering or
    writing: a render, or a finalizer the garbage collector runs meanwhile, may log in
    turn (its line joins the queue). A stream that cannot take a line (a broken pipe,
    a full disk) loses it rather than failing what it describes.

    ``write_soon`` is for the line every request writes: queued, and drained at the
    event loop's next turn with the others of the same turn. Rendering each access
    line as its request ended cost four times as much as rendering them together a
    moment later (measured in the server under load: about 20 µs of CPU against 5, a
    sixth of a request to ``/health/live``): by the end of a request the renderer's
    code and data have gone cold, and a batch keeps them warm. A thread without a
    running loop drains at once; a line whose loop stops before turning again is
    written by the next line, a ``flush`` (the app's shutdown makes one) or the
    process's exit. A process killed outright loses the lines of the loop's current
    turn.
    """

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.level = logging.INFO
        self.render: list[Processor] = []
        self.json = False  # lines rendered as JSON (else for a console)
        # appends and pops of a deque are atomic: writers take no lock
        self._queue: deque[tuple[Render, Any]] = deque()
        # held by the drainer, only ever tried (never waited on)
        self._draining = threading.Lock()
        # the queue drained at the event loop's next turn
        self._next_turn = NextTurn(self.flush)

    def write(self, line: str) -> None:
        """Write ``line`` now, after the lines queued before it."""
        self._queue.append((_as_is, line))
        self.flush()

    def write_soon(self, render: Render, record: Any) -> None:
        """Write ``render(record)`` at the running event loop's next turn (now, if no loop
        runs in this thread)."""
        self._queue.append((render, record))
        self._next_turn.soon()

    def flush(self) -> None:
        """Write the queued lines (unless another thread is writing them: it will)."""
        queue = self._queue
        while queue and self._draining.acquire(blocking=False):
            try:
                while queue:
                    batch = [queue.popleft() for _ in range(len(queue))]
                    self._write("".join(_rendered(batch)))
            finally:
                self._draining.release()
            # a line queued after the last look, by a thread that found this one
            # draining, is this thread's to write: the loop looks again

    def replace_stream(self, stream: TextIO) -> None:
        """From now on write to ``stream``; what is queued goes to the old one first."""
        self.flush()
        self.stream = stream

    def forget_waiting(self) -> None:
        """In a forked child: the parent writes what was queued."""
        self._queue = deque()
        self._draining = threading.Lock()
        self._next_turn.forget()

    def _write(self, text: str) -> None:
        stream = self.stream
        try:
            for chunk in _atomic_chunks(text, getattr(stream, "encoding", None) or "utf-8"):
                stream.write(chunk)
                stream.flush()
        except Exception:  # noqa: S110 - as logging.Handler.handleError does by default
            pass


def _rendered(batch: list[tuple[Render, Any]]) -> Iterator[str]:
    for render, record in batch:
        try:
            yield render(record) + "\n"
        except Exception as e:  # a line that cannot be rendered must not take the batch along
            yield unrenderable(e, getattr(render, "__name__", "?"), "error") + "\n"


def unrenderable(error: Exception, event: object, level: str) -> str:
    """The line written instead of one that could not be rendered: what failed, not why."""
    what = f"a log line could not be rendered ({type(error).__name__}): {event!r}"
    return json.dumps({"event": what, "level": level})


def _atomic_chunks(text: str, encoding: str) -> Iterator[str]:
    """``text`` (lines, each ending in a newline) in pieces of whole lines, each one write
    a pipe takes whole once encoded (a longer line alone in its piece)."""
    if text.isascii() and len(text) <= _ATOMIC_WRITE:
        yield text
        return
    piece: list[str] = []
    size = 0
    for line in text[:-1].split("\n"):  # only at newlines: other line breaks stay in lines
        line += "\n"
        # what the stream writes for it: what it cannot encode goes out escaped, at most
        length = len(line) if line.isascii() else len(line.encode(encoding, "backslashreplace"))
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
