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
from psycopg.generators import fetch_many
from psycopg.pq import ExecStatus
from psycopg.waiting import WAIT_R

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

COMMAND_OK = ExecStatus.COMMAND_OK

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
    payload is framed.

    Every row costs a turn of one loop (``_gather``), so it is kept tight: a message passes
    when two of its bytes are the ones every row has (``_expect``: the positions and their
    values); anything else goes to ``_odd``. Rows are copied into the chunk as they come:
    libpq's buffer of each is then freed while still in the cache (keeping the buffers and
    joining them once costs more). When libpq holds no whole message, the socket is read
    once before waiting on it: it often holds more already, and a round of the event loop
    per read of libpq's buffer (some 16 KiB) costs more."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        super().__init__()
        self._connection, self._pgconn = connection, connection.pgconn
        self._ahead: bytearray | None = None  # a row read to tell whether one is left
        self._sent: int | None = None  # rows the server says it sent, once it is done
        self._expect = (0, -1, 0, -1)  # (position, byte, position, byte): none until set

    def _odd(self, message: memoryview) -> memoryview | None:
        """The row in a message that does not look like a row (``None``: it holds none);
        ``StreamFailed`` if it is malformed. May change ``_expect``."""
        raise NotImplementedError

    def _framed(self, chunk: bytearray, rows: int, *, first: bool, last: bool) -> bytearray:
        """``chunk`` (holding ``rows`` rows) as the payload's frame: what goes around it."""
        raise NotImplementedError

    def _gather(self, wanted: int) -> Any:  # a psycopg wait generator: (chunk, rows in it)
        chunk, rows = bytearray(), 0
        if self._ahead is not None:
            chunk += self._ahead
            rows, self._ahead = 1, None
        if self._sent is not None:
            return chunk, rows
        pgconn = self._pgconn
        get, consume = pgconn.get_copy_data, pgconn.consume_input
        at, byte, other, other_byte = self._expect
        read_at = -1  # the rows gathered when the socket was last read
        while rows < wanted and len(chunk) < CHUNK_BYTES:
            length, message = get(1)
            if length > 0:
                if message[at] == byte and message[other] == other_byte:
                    chunk += message
                    rows += 1
                    continue
                row = self._odd(message)
                at, byte, other, other_byte = self._expect
                if row is not None:
                    chunk += row
                    rows += 1
            elif length == 0:
                if read_at == rows:  # the last read brought no row: wait for the socket
                    while not (yield WAIT_R):
                        continue
                consume()
                read_at = rows
            else:
                self._sent = yield from self._result()
                break
        return chunk, rows

    def _result(self) -> Any:  # a psycopg wait generator: the rows the server says it sent
        # what psycopg's own ``copy_from`` does once the data ends
        results = yield from fetch_many(self._pgconn)
        if len(results) != 1:
            raise psycopg.ProgrammingError("you cannot mix COPY with other operations")
        if results[0].status != COMMAND_OK:
            encoding = self._connection.info.encoding
            raise psycopg.errors.error_from_result(results[0], encoding=encoding)
        return results[0].command_tuples or 0

    async def exhausted(self) -> bool:
        """Whether every row was handed out (reads one row ahead to tell)."""
        self._start()
        try:
            with translated():
                chunk, rows = await self._connection.wait(self._gather(1))
        finally:
            self._reading = False
        self._ahead = chunk if rows else None
        if not rows and self._sent != self.handed:
            raise StreamFailed(UNEXPECTED)
        return not rows

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
        # from now on a row is a message that starts with the count of fields
        self._expect = (0, self._fields[0], 1, self._fields[1])
        return message[_HEADER + extension :]

    def _odd(self, message: memoryview) -> memoryview | None:
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
        self._expect = (-1, _LINE_FEED, -1, _LINE_FEED)  # a row ends with a line feed

    def _odd(self, message: memoryview) -> memoryview | None:
        raise StreamFailed(UNEXPECTED)

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
