"""A running ``COPY ... TO STDOUT`` read as consecutive batches, never held whole.

Binary: the server sends one message per row (the header rides on the first,
the trailer comes alone), as psycopg's own row parser also relies on. Rows are
regrouped into payloads of a given number of rows, each a complete binary COPY
(the header, the rows, the trailer) handed out in chunks of about 256 KiB; the
rows' bytes are never parsed. Messages are read straight from libpq inside one
psycopg wait, so gathering a chunk costs no round of the event loop per row.
Rows: decoded once by psycopg, with the columns' types set.

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
"""Binary frames are handed out in chunks of about this size (one row may make it larger)."""

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"
EMPTY_PAYLOAD = SIGNATURE + bytes(8) + TRAILER
"""A binary COPY payload of no rows: the header (no flags, no extension) and the trailer."""
_HEADER = len(SIGNATURE) + 8

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


class BinaryCopyOut(_Rows):
    """The rows of a binary ``COPY TO STDOUT`` started on ``connection``, as payloads."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], columns: int) -> None:
        super().__init__()
        self._connection, self._pgconn = connection, connection.pgconn
        self._fields = struct.pack("!h", columns)
        self._header: bytes | None = None
        self._ahead: memoryview | None = None
        self._sent: int | None = None  # rows the server says it sent, once it is done

    def _strip_header(self, message: memoryview) -> memoryview:
        if len(message) < _HEADER or message[: len(SIGNATURE)] != SIGNATURE:
            raise StreamFailed(UNEXPECTED)
        extension = int.from_bytes(message[_HEADER - 4 : _HEADER], "big")
        # the flags and any extension are kept as they came: every payload repeats them
        self._header = bytes(message[: _HEADER + extension])
        return message[_HEADER + extension :]

    def _next_row(self) -> Any:  # a psycopg wait generator: the next row, or None at the end
        if self._ahead is not None:
            row, self._ahead = self._ahead, None
            return row
        while self._sent is None:
            got = yield from copy_from(self._pgconn)
            if not isinstance(got, memoryview):  # the final result (an error raised already)
                self._sent = got.command_tuples or 0
                break
            if self._header is None:
                got = self._strip_header(got)
            if not got or got == TRAILER:  # a header alone, or the end: the result follows
                continue
            if got[:2] != self._fields:
                raise StreamFailed(UNEXPECTED)
            return got
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
        """The next ``rows`` rows (at most, unless ``exact``) as one binary COPY payload."""
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
                if first:
                    assert self._header is not None  # noqa: S101 - the first message sets it
                    chunk[:0] = self._header
                    first = False
                if done:
                    chunk += TRAILER
                yield bytes(chunk)
                if done:
                    return
        finally:
            self._reading = False


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
