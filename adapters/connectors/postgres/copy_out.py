"""A running ``COPY ... TO STDOUT`` read as consecutive batches, never held whole.

The server sends one message per row in every format (for binary, the header
rides on the first and the trailer comes alone), as psycopg's own row parser
also relies on. Rows are regrouped into payloads of a given number of rows
handed out in chunks of about 256 KiB; the rows' bytes are never parsed.
Messages are read straight from libpq inside one psycopg wait, so gathering a
chunk costs no round of the event loop per row. Binary: each payload is a
complete binary COPY (the header, the rows, the trailer). Text (CSV, JSON
Lines): the rows as they came, each ending with a line feed. Rows: decoded
once by psycopg, with the columns' types set.

Either way a batch's frames must be consumed before the next batch starts,
and the count of rows handed out is checked against what the server says it
sent.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg.generators import copy_from

from thedata.adapters.connectors.postgres.stream_errors import translated
from thedata.application.ports.streams import StreamFailed

CHUNK_BYTES = 256 * 1024
"""Byte frames are handed out in chunks of about this size (one row may make it larger)."""

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"
EMPTY_PAYLOAD = SIGNATURE + bytes(8) + TRAILER
"""A binary COPY payload of no rows: the header (no flags, no extension) and the trailer."""
_HEADER = len(SIGNATURE) + 8
_LINE_FEED = ord("\n")

UNEXPECTED = "the source sent a COPY stream this reader does not understand"


class _Rows:
    """Row bookkeeping shared by both formats."""

    def __init__(self) -> None:
        self._reading = False
        self.handed = 0
        """Rows handed out so far."""

    def _start(self) -> None:
        if self._reading:
            raise RuntimeError("the previous batch's frames were not all consumed")
        self._reading = True


class _MessagesCopyOut(_Rows):
    """A ``COPY TO STDOUT`` started on ``connection`` whose every message is one row, handed
    out as payloads of a number of rows. Subclasses say what a message holds and how a
    payload is framed."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        super().__init__()
        self._connection, self._pgconn = connection, connection.pgconn
        self._ahead: memoryview | None = None
        self._sent: int | None = None  # rows the server says it sent, once it is done

    def _row(self, message: memoryview) -> memoryview | None:
        """The row in ``message`` (``None``: it holds none); ``StreamFailed`` if malformed."""
        raise NotImplementedError

    def _framed(self, chunk: bytearray, rows: int, *, first: bool, last: bool) -> bytearray:
        """``chunk`` (holding ``rows`` rows) as the payload's frame: what goes around it."""
        raise NotImplementedError

    def _next_row(self) -> Any:  # a psycopg wait generator: the next row, or None at the end
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return ahead
        while self._sent is None:
            got = yield from copy_from(self._pgconn)
            if not isinstance(got, memoryview):  # the final result (an error raised already)
                self._sent = got.command_tuples or 0
                break
            row = self._row(got)
            if row is not None:
                return row
        return None

    def _gather(self, wanted: int) -> Any:  # a psycopg wait generator: (chunk, rows in it)
        chunk, rows = bytearray(), 0
        while rows < wanted and len(chunk) < CHUNK_BYTES:
            row = yield from self._next_row()
            if row is None:
                break
            chunk += row
            rows += 1
        return chunk, rows

    async def exhausted(self) -> bool:
        """Whether every row was handed out (reads one row ahead to tell)."""
        self._start()
        try:
            with translated():
                row = await self._connection.wait(self._next_row())
        finally:
            self._reading = False
        self._ahead = row
        if row is None and self._sent != self.handed:
            raise StreamFailed(UNEXPECTED)
        return row is None

    async def payload(self, rows: int, *, exact: bool = True) -> AsyncIterator[bytes]:
        """The next ``rows`` rows (at most, unless ``exact``) as one payload."""
        self._start()
        left, first = rows, True
        try:
            while True:
                with translated():
                    chunk, taken = await self._connection.wait(self._gather(left))
                left -= taken
                self.handed += taken
                done = left == 0 or (self._sent is not None and self._ahead is None)
                if done and exact and left:
                    raise StreamFailed(f"{UNEXPECTED} (fewer rows than counted)")
                chunk = self._framed(chunk, taken, first=first, last=done)
                first = False
                if chunk:
                    yield bytes(chunk)
                if done:
                    return
        finally:
            self._reading = False


class BinaryCopyOut(_MessagesCopyOut):
    """The rows of a binary ``COPY TO STDOUT``, as complete binary COPY payloads."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], columns: int) -> None:
        super().__init__(connection)
        self._fields = struct.pack("!h", columns)
        self._header: bytes | None = None

    def _strip_header(self, message: memoryview) -> memoryview:
        if len(message) < _HEADER or message[: len(SIGNATURE)] != SIGNATURE:
            raise StreamFailed(UNEXPECTED)
        extension = int.from_bytes(message[_HEADER - 4 : _HEADER], "big")
        # the flags and any extension are kept as they came: every payload repeats them
        self._header = bytes(message[: _HEADER + extension])
        return message[_HEADER + extension :]

    def _row(self, message: memoryview) -> memoryview | None:
        if self._header is None:
            message = self._strip_header(message)
        if not message or message == TRAILER:  # a header alone, or the end: the result follows
            return None
        if message[:2] != self._fields:
            raise StreamFailed(UNEXPECTED)
        return message

    def _framed(self, chunk: bytearray, rows: int, *, first: bool, last: bool) -> bytearray:
        if first:
            assert self._header is not None  # noqa: S101 - the first message sets it
            chunk[:0] = self._header
        if last:
            chunk += TRAILER
        return chunk


class TextCopyOut(_MessagesCopyOut):
    """The rows of a text ``COPY TO STDOUT`` (CSV, or JSON Lines through a one-column CSV), as
    the server wrote them: no header, no trailer, each row ending with a line feed. With
    ``lines`` every row must be one line (JSON Lines): counted in each chunk, so a row that
    spans lines fails the read instead of splitting into two."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], *, lines: bool) -> None:
        super().__init__(connection)
        self._lines = lines

    def _row(self, message: memoryview) -> memoryview | None:
        if not message or message[-1] != _LINE_FEED:
            raise StreamFailed(UNEXPECTED)
        return message

    def _framed(self, chunk: bytearray, rows: int, *, first: bool, last: bool) -> bytearray:
        if self._lines and chunk.count(b"\n") != rows:
            raise StreamFailed(f"{UNEXPECTED} (a JSON Lines row spans several lines)")
        return chunk


class RowsCopyOut(_Rows):
    """The rows of a text ``COPY TO STDOUT``, decoded by psycopg as ``types``, in batches."""

    def __init__(self, copy: psycopg.AsyncCopy, types: Sequence[int]) -> None:
        super().__init__()
        copy.set_types(list(types))
        self._copy = copy
        self._ahead: tuple[Any, ...] | None = None
        self._ended = False

    async def _next_row(self) -> tuple[Any, ...] | None:
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return ahead
        if self._ended:
            return None
        with translated():
            row = await self._copy.read_row()
        self._ended = row is None
        return row

    async def exhausted(self) -> bool:
        """Whether every row was handed out (reads one row ahead to tell)."""
        self._start()
        try:
            self._ahead = await self._next_row()
        finally:
            self._reading = False
        return self._ahead is None

    async def payload(self, rows: int, *, exact: bool = True) -> AsyncIterator[tuple[Any, ...]]:
        """The next ``rows`` rows (at most, unless ``exact``)."""
        self._start()
        left = rows
        try:
            while left:
                row = await self._next_row()
                if row is None:
                    if exact:
                        raise StreamFailed(f"{UNEXPECTED} (fewer rows than counted)")
                    return
                left -= 1
                self.handed += 1
                yield row
        finally:
            self._reading = False


async def empty_rows() -> AsyncIterator[tuple[Any, ...]]:
    """No rows (a batch that only moves the position)."""
    none: tuple[tuple[Any, ...], ...] = ()
    for row in none:
        yield row


async def empty_payload() -> AsyncIterator[bytes]:
    """A binary COPY payload of no rows."""
    yield EMPTY_PAYLOAD


async def empty_text() -> AsyncIterator[bytes]:
    """CSV or JSON Lines of no rows: no bytes at all."""
    none: tuple[bytes, ...] = ()
    for chunk in none:
        yield chunk
