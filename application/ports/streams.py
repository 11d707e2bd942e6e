"""Moving a stream: what a source reads and what a destination writes (the engine's ports).

A source hands out a stream's ``Shape`` and then its rows in ``Batch``es. A
batch's data comes as frames in one ``FrameFormat``: when source and
destination both speak PostgreSQL's binary COPY and the columns' types match,
the frames are the COPY bytes themselves, passed through untouched; otherwise
they are rows of Python values, decoded once and encoded once. Frames are
produced while the writer consumes them, so rows never pile up in memory.

A destination keeps each stream's state (its read position and the epoch of
the attempt allowed to write) *beside its data*, and changes both in one
commit. An attempt opens the destination stream with its epoch: a larger epoch
fences every older attempt, whose later commits fail and change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol

from attrs import frozen

from thedata.application.errors import ConnectorFailed
from thedata.domain.errors import Conflict

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's limit on a name; longer names are refused, never truncated."""


@frozen
class Column:
    """A column of a stream, its type as PostgreSQL spells it (``format_type``).

    Files carry the same names (``numeric(12,2)``, ``timestamp with time zone``,
    ``jsonb``, ``text[]``...), so every kind speaks one type vocabulary.
    """

    name: str
    type: str
    nullable: bool = True


@frozen
class Shape:
    """A stream's columns in order, and its primary key (empty when it has none)."""

    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column | None:
        """The column named ``name``, if the stream has one."""
        return next((c for c in self.columns if c.name == name), None)


class FrameFormat(enum.Enum):
    """How a batch's data travels from reader to writer."""

    POSTGRES_BINARY = "postgres_binary"
    """Chunks of one complete ``COPY ... (FORMAT binary)`` payload (header to trailer),
    columns in shape order: written with one ``COPY FROM``, never decoded in between."""
    CSV = "csv"
    """Chunks of CSV text as PostgreSQL's ``COPY ... (FORMAT csv)`` writes it: UTF-8, ``,``
    between fields, ``"`` quotes, ``\\n`` after each record (a quoted field may hold line
    breaks), no header; NULL is an empty unquoted field and an empty string is ``""``. Values
    are PostgreSQL's text forms under the readers' pinned settings (UTC, ISO dates, hex
    ``bytea``), columns in shape order. Chunks may end anywhere, even inside a record."""
    JSON_LINES = "jsonl"
    """Chunks of JSON Lines, as PostgreSQL's ``to_json`` writes a row: one object per line,
    keys the column names (a missing key is NULL); numbers and booleans as JSON's own,
    ``json``/``jsonb`` nested, arrays as JSON arrays, every other value a string of its
    text form. Chunks may end anywhere, even inside a line."""
    ROWS = "rows"
    """Tuples of Python values in shape order (``None`` for NULL)."""


@frozen
class Position:
    """Where an incremental read stands: the last row's cursor and primary key, and which
    source transactions were still running when it was read.

    Values are PostgreSQL's text forms (what ``::text`` gives), so a position
    survives being stored in any destination, and is compared back as a row
    value, ``(cursor, key...) > (position)``, cast to the columns' types: exact
    for ties on the cursor, whatever its type. ``snapshot`` is the source's
    ``pg_current_snapshot()`` text when it read: the next read also takes every
    row written by a transaction not older than that snapshot's horizon (its
    ``xmin``), whatever its cursor, so rows that transactions running then
    committed later, below the cursor, are not lost (docs/engine.md).
    """

    cursor: str
    key: tuple[str, ...] = ()
    snapshot: str | None = None


@frozen
class Batch:
    """One batch of a stream: its frames, and where the read stands after it.

    ``end`` is ``None`` for a full refresh, which publishes only when the whole
    stream is written. ``frames`` may be consumed once.
    """

    format: FrameFormat
    frames: AsyncIterator[bytes] | AsyncIterator[tuple[object, ...]]
    end: Position | None = None


@frozen
class Written:
    """What one batch put in the destination."""

    rows: int
    bytes: int


class WriteMode(enum.Enum):
    """How a stream's batches land."""

    REPLACE = "replace"
    """Full refresh: everything written becomes the table at ``finish``, atomically."""
    UPSERT = "upsert"
    """Incremental with a primary key: insert, or replace the row with the same key."""
    APPEND = "append"
    """Incremental without a key: insert; the state committed with the rows makes a
    re-read impossible to append twice."""


@frozen
class Fingerprint:
    """A stream's rows summarised: how many, and an order-independent checksum of their text
    forms (``application/fingerprint.py``). ``complete`` is false when the source held rows
    back (transactions still running at the read), so a difference may be only that."""

    rows: int
    checksum: int
    complete: bool = True


FingerprintSink = Callable[[Fingerprint], None]
"""Told the source's fingerprint, taken in the read's own snapshot after its last batch."""


@frozen
class ReadPlan:
    """What to read: the columns in the writer's order, the frame format agreed, and for an
    incremental stream its cursor column and the position to read after."""

    shape: Shape
    format: FrameFormat
    batch_rows: int
    cursor_field: str | None = None
    after: Position | None = None
    fingerprint: FingerprintSink | None = None
    """When set, a source that can tells it the fingerprint of the whole stream (every column
    of ``shape``, every row, not only those read) as its snapshot holds it."""


class Superseded(Conflict):
    """A later attempt took the destination stream over: this one may commit nothing more.
    ``holder`` is the epoch the destination holds, where the writer knows it."""

    code = "attempt_superseded"

    def __init__(self, message: str, *, holder: int | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class StreamFailed(ConnectorFailed):
    """The stream cannot go on: a missing table, a refused permission, a retyped column, a
    NULL cursor. ``retryable`` says whether running it again may succeed unchanged."""

    code = "stream_failed"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


Batches = AsyncIterator[Batch]


class StreamReader(Protocol):
    """A source's side of moving one stream."""

    @property
    def formats(self) -> Sequence[FrameFormat]:
        """The frame formats this source can produce, best first."""
        ...

    async def shape(self, stream: str) -> Shape:
        """The stream's columns and primary key, as the source has them now."""
        ...

    async def estimate(self, stream: str) -> int | None:
        """About how many rows the stream holds, from what the source knows without counting
        (statistics, a manifest, a file's size); ``None`` when it cannot tell."""
        ...

    def read(
        self, stream: str, plan: ReadPlan
    ) -> AbstractAsyncContextManager[AsyncIterator[Batch]]:
        """The stream's rows in batches of at most ``plan.batch_rows`` rows, from one
        consistent snapshot. For an incremental plan: in (cursor, key) order, after
        ``plan.after``, plus the rows that transactions running at ``plan.after`` committed
        since; a NULL cursor fails the stream, naming the column.

        Whatever a source can or cannot sort, a batch's ``end`` is at or above every row in
        it and before it, and below every row after it: a source that cannot order its rows
        cheaply (files too large to sort in memory) sends them as one batch, and a batch
        never ends inside a tie."""
        ...


class DestinationStream(Protocol):
    """One attempt's hold on a destination stream (from ``StreamWriter.open``)."""

    @property
    def position(self) -> Position | None:
        """The committed position: where the next read starts (the destination is the
        source of truth)."""
        ...

    @property
    def formats(self) -> Sequence[FrameFormat]:
        """The frame formats this destination takes for the stream's shape, best first."""
        ...

    async def write(self, batch: Batch) -> Written:
        """Write one batch; how many rows and bytes it held.

        For ``UPSERT`` and ``APPEND`` the rows and the batch's end position commit
        together, fenced by the epoch (``Superseded`` when a later attempt took
        over); for ``REPLACE`` rows wait for ``finish``.
        """
        ...

    async def finish(self) -> None:
        """Publish what was written (``REPLACE``: the new table appears at once), fenced."""
        ...

    async def fingerprint(self) -> Fingerprint | None:
        """The published table's fingerprint over the shape's columns (after ``finish``);
        ``None`` when this destination cannot take one."""
        ...


class StreamWriter(Protocol):
    """A destination's side of moving one stream."""

    def open(
        self, pipeline: str, stream: str, table: str, shape: Shape, mode: WriteMode, epoch: int
    ) -> AbstractAsyncContextManager[DestinationStream]:
        """Take the destination stream for the attempt with ``epoch`` (``Superseded`` if a
        larger one holds it), creating or evolving ``table`` for ``shape``."""
        ...


class Retrying(Protocol):
    """How a stream's retryable failures are tried again (with backoff, within a time limit)."""

    def attempts(
        self, retryable: Callable[[Exception], bool]
    ) -> AsyncIterator[AbstractContextManager[None]]:
        """Attempts to run in turn: a ``retryable`` exception inside one leads to the next
        (after a wait), until they run out; anything else, or the last one's, is raised."""
        ...


@frozen
class Moved:
    """How far a stream has got: rows and bytes written so far, out of about ``estimate``
    rows (the source's statistics; ``None`` when it cannot tell)."""

    rows: int
    bytes: int
    estimate: int | None = None


Progress = Callable[[Moved], None]
"""Told how far the stream has got, after each batch."""
