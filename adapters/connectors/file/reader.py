"""The ``file`` kind as a source: a stream is a file of the folder, or a stream the engine wrote.

A stream ``T`` is the folder ``T/`` when a manifest publishes it (written by
this engine: its columns keep their PostgreSQL types), else the file
``T.csv`` / ``T.jsonl`` (typed from a sample, ``values``). A read first takes
its snapshot: the manifest's files are opened and share-locked under the
stream's lock (so no sweep deletes them while they are read), a plain file is
opened and read up to the size it had then.

Frames are the files' records, passed through (a CSV header dropped), or rows
decoded once, in batches of ``batch_rows`` rows. An incremental read makes a
first pass that picks the rows after the position and finds where batches
end, then a second that sends them: rows already in ``(cursor, key)`` order
(an append-only log) are cut as they come, others are sorted in memory up to
``SORT_BYTES`` and cut, and beyond that sent as one batch. Files have no
transactions: a row added later with a cursor not above the position already
stored is not seen (docs/engine.md).
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

from attrs import frozen

from thedata.adapters.connectors.file.config import FileConfig
from thedata.adapters.connectors.file.file_errors import translated
from thedata.adapters.connectors.file.folders import Folder, open_folder
from thedata.adapters.connectors.file.manifest import MANIFEST, load
from thedata.adapters.connectors.file.parts import READ_BYTES, SUFFIX, csv_fingerprint
from thedata.adapters.connectors.file.parts import records as file_records
from thedata.adapters.connectors.file.records import (
    csv_fields,
    header_names,
)
from thedata.adapters.connectors.file.sampling import Limits, Reading, csv_stream, jsonl_stream
from thedata.adapters.connectors.file.storage import StreamFolder
from thedata.adapters.connectors.file.streams import FORMATS, stream_name
from thedata.adapters.connectors.file.values import (
    SAMPLED_TYPES,
    CursorOrder,
    decoded,
    json_record,
    text_form,
)
from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.work import Budget, Stopped
from thedata.application.ports.streams import (
    Batch,
    Column,
    FrameFormat,
    Position,
    ReadPlan,
    Shape,
    StreamFailed,
)

MOST_FILES = 1000
"""Data files one read opens at once (an append-only stream gains one per batch)."""
SORT_BYTES = 64 * 1024 * 1024
HELD_ROW_BYTES = 250
"""What a held row costs beyond its bytes (its key tuple, the values in it, list slots)."""
"""Rows of an incremental read that are not in cursor order are sorted in memory while they
take up to this much (their bytes and ``HELD_ROW_BYTES`` each); beyond it they go as one
batch."""


@frozen
class Snapshot:
    """A stream's files as one read sees them: open, with the size each had then."""

    shape: Shape
    files: tuple[tuple[int, int], ...]
    """(descriptor, size) of each file, in order."""
    estimate: int | None = None
    """Rows: the manifest's count, or a plain file's size over its sample's bytes per row."""
    published: bool = False
    """Whether the engine published these files (their values are PostgreSQL's text forms)."""


class FolderStreamReader:
    """Reads the files of a data source's folder as streams."""

    def __init__(self, root: str, config: FileConfig, timeout: float) -> None:
        self._root, self._config, self._timeout = root, config, timeout
        self.formats: Sequence[FrameFormat] = (FORMATS[config.format], FrameFormat.ROWS)

    @property
    def _format(self) -> str:
        return self._config.format

    async def shape(self, stream: str) -> Shape:
        stream_name(stream)
        with translated(), ExitStack() as stack:
            snapshot = await asyncio.to_thread(self._snapshot, stack, stream)
            return snapshot.shape

    async def estimate(self, stream: str) -> int | None:
        stream_name(stream)
        with translated(), ExitStack() as stack:
            snapshot = await asyncio.to_thread(self._snapshot, stack, stream)
            return snapshot.estimate

    @asynccontextmanager
    async def read(self, stream: str, plan: ReadPlan) -> AsyncIterator[AsyncIterator[Batch]]:
        stream_name(stream)
        if plan.batch_rows < 1:
            raise StreamFailed("a batch must hold at least one row")
        with translated(), ExitStack() as stack:
            incremental = plan.cursor_field is not None
            snapshot = await asyncio.to_thread(
                self._snapshot, stack, stream, whole_lines=incremental
            )
            _checked_plan(stream, snapshot.shape, plan)
            if not incremental:
                yield self._full(snapshot, plan)
                return
            cuts = await _unbounded(lambda budget: self._cuts(snapshot, plan, budget))
            yield self._incremental(snapshot, plan, cuts)

    def _snapshot(self, stack: ExitStack, stream: str, *, whole_lines: bool = False) -> Snapshot:
        """Open the stream's files (closed by ``stack``); ``whole_lines``: a plain file's last
        line counts only once it ends (it may be being written)."""
        folder = stack.enter_context(open_folder(self._root, self._config.path))
        try:
            managed = stack.enter_context(
                StreamFolder.opened(folder.descriptor, stream, create=False)
            )
        except FileNotFoundError:
            return self._plain(stack, folder, stream, whole_lines)
        except StreamFailed:
            return self._plain(stack, folder, stream, whole_lines)
        found = managed.open(MANIFEST)
        if found is None:
            return self._plain(stack, folder, stream, whole_lines)
        os.close(found)
        with managed.locked(self._timeout):
            manifest = load(managed)
            if manifest is None or manifest.format != self._format:
                raise _no_stream(stream)
            if len(manifest.files) > MOST_FILES:
                raise StreamFailed(
                    f"{stream!r} has more than {MOST_FILES} data files; a full refresh into it "
                    "makes it one again"
                )
            files = []
            for name in manifest.files:
                descriptor = managed.open(name)
                if descriptor is None:
                    raise StreamFailed(f"the data file {name!r} of {stream!r} is missing")
                stack.callback(os.close, descriptor)
                fcntl.flock(descriptor, fcntl.LOCK_SH)  # the sweep leaves it while read
                files.append((descriptor, os.fstat(descriptor).st_size))
        return Snapshot(manifest.shape, tuple(files), manifest.rows, published=True)

    def _plain(
        self, stack: ExitStack, folder: Folder, stream: str, whole_lines: bool = False
    ) -> Snapshot:
        name = stream + SUFFIX[self._format]
        descriptor = folder.open(name)
        if descriptor is None:
            raise _no_stream(stream)
        stack.callback(os.close, descriptor)
        size = os.fstat(descriptor).st_size
        if whole_lines:
            size = _after_last_line_break(descriptor, size)
        budget = Budget(self._timeout)
        try:
            lines = Reading(Limits(), budget).head(descriptor, name)
            sampled = (csv_stream if self._format == "csv" else jsonl_stream)(name, lines, budget)
        except Stopped:
            raise StreamFailed(f"{name!r} could not be sampled in time", retryable=True) from None
        os.lseek(descriptor, 0, os.SEEK_SET)
        if self._format == "csv" and lines:
            # the header as PostgreSQL's CSV reads it (quoted names may hold commas)
            names = header_names(lines[0] + b"\n")
            if len(names) != len(sampled.fields):
                raise StreamFailed(f"the header of {name!r} cannot be read")
        columns = tuple(Column(f.name, SAMPLED_TYPES.get(f.type, "text")) for f in sampled.fields)
        if not columns:
            raise StreamFailed(f"{name!r} has no columns")
        sampled_rows = len(lines) - (1 if self._format == "csv" else 0)
        sampled_bytes = sum(len(line) + 1 for line in lines)
        estimate = round(size * sampled_rows / sampled_bytes) if sampled_rows > 0 else 0
        return Snapshot(Shape(columns), ((descriptor, size),), estimate)

    async def _full(self, snapshot: Snapshot, plan: ReadPlan) -> AsyncIterator[Batch]:
        """Every row, in batches of ``batch_rows`` (always one, even of no rows: the
        destination's new table)."""
        records = _Peekable(self._records(snapshot))
        first = True
        while first or records.more():
            first = False
            yield Batch(plan.format, self._frames(snapshot, plan, (records, plan.batch_rows)))
        await self._fingerprint(snapshot, plan)

    def _cuts(self, snapshot: Snapshot, plan: ReadPlan, budget: Budget) -> Cuts:
        """The first pass: the rows after the position and where batches may end."""
        picker = _Picker(snapshot.shape, plan, self._format)
        ends: list[tuple[int, tuple[Any, ...]]] = []
        held: list[tuple[tuple[Any, ...], bytes]] | None = []
        held_bytes, picked, ordered = 0, 0, True
        previous: tuple[Any, ...] | None = None
        highest: tuple[Any, ...] | None = None
        for index, record in enumerate(self._records(snapshot)):
            if index % 4096 == 0:
                budget.spend()
            key = picker.key(record)
            if not picker.after(key):
                continue
            picked += 1
            ordered = ordered and (previous is None or key > previous)
            previous = key
            highest = key if highest is None or key > highest else highest
            if picked % plan.batch_rows == 0:
                ends.append((picked, key))
            if held is not None:
                held_bytes += len(record) + HELD_ROW_BYTES
                held = held if held_bytes <= SORT_BYTES else None
                if held is not None:
                    held.append((key, record))
        if highest is None:
            return Cuts(())
        if not ordered and held is not None:
            return _sorted(held, plan.batch_rows, picker)
        if not ordered:
            ends = []  # a batch may only end where every row before it is below its end
        if not ends or ends[-1][0] != picked:
            ends.append((picked, highest))
        return Cuts(tuple((rows, picker.position(key)) for rows, key in ends))

    async def _incremental(
        self, snapshot: Snapshot, plan: ReadPlan, cuts: Cuts
    ) -> AsyncIterator[Batch]:
        records: Iterator[bytes]
        if cuts.records is not None:
            records = iter(cuts.records)
        else:
            picker = _Picker(snapshot.shape, plan, self._format)
            records = (r for r in self._records(snapshot) if picker.after(picker.key(r)))
        before = 0
        for rows, end in cuts.ends:
            frames = self._frames(snapshot, plan, (records, rows - before), exact=True)
            yield Batch(plan.format, frames, end)
            before = rows
        await self._fingerprint(snapshot, plan)

    async def _fingerprint(self, snapshot: Snapshot, plan: ReadPlan) -> None:
        """Tell the plan the stream's fingerprint, when it asks and the files hold PostgreSQL's
        text forms (a CSV stream the engine published; a file from elsewhere spells values
        its own way: ``007``, ``true``)."""
        if plan.fingerprint is None or not snapshot.published or self._format != "csv":
            return
        plan.fingerprint(await asyncio.to_thread(csv_fingerprint, self._records(snapshot)))

    def _records(self, snapshot: Snapshot) -> Iterator[bytes]:
        """Every record of every file, up to each file's size at the snapshot."""
        for descriptor, size in snapshot.files:
            yield from file_records(descriptor, self._format, size)

    async def _frames(
        self,
        snapshot: Snapshot,
        plan: ReadPlan,
        picked: tuple[Iterator[bytes], int],
        *,
        exact: bool = False,
    ) -> AsyncIterator[Any]:
        """A batch's frames: the next ``rows`` of ``records`` (all of them, if ``exact``), as
        the plan's format (text records pass as they are, gathered into chunks)."""
        records, rows = picked
        pending = bytearray()
        taken = 0
        decoder = _RowDecoder(snapshot.shape, plan.shape, self._format)
        for taken, record in enumerate(records, start=1):
            if plan.format is FrameFormat.ROWS:
                yield decoder.decode(record)
            else:
                pending += record
                if len(pending) >= READ_BYTES:
                    yield bytes(pending)
                    pending = bytearray()
            if taken == rows:
                break
            if taken % 4096 == 0:
                await asyncio.sleep(0)  # let the writer's side and timers run
        if exact and taken != rows:
            raise StreamFailed("the stream's files changed while they were read", retryable=True)
        if pending:
            yield bytes(pending)


@frozen
class Cuts:
    """Where an incremental read's batches end: (rows picked so far, the position there), and
    the rows picked, sorted, when they were few enough to be sorted in memory."""

    ends: tuple[tuple[int, Position], ...]
    records: tuple[bytes, ...] | None = None


def _sorted(held: list[tuple[tuple[Any, ...], bytes]], batch_rows: int, picker: _Picker) -> Cuts:
    """Cuts of rows sorted in memory: every ``batch_rows`` rows, but never inside a tie."""
    held.sort(key=lambda pair: pair[0])
    ends, since = [], 0
    for index, (key, _) in enumerate(held, start=1):
        since += 1
        last = index == len(held)
        if last or (since >= batch_rows and held[index][0] != key):
            ends.append((index, picker.position(key)))
            since = 0
    return Cuts(tuple(ends), tuple(record for _, record in held))


class _Picker:
    """Reads a record's cursor and key, and tells whether it comes after the position."""

    def __init__(self, shape: Shape, plan: ReadPlan, file_format: str) -> None:
        assert plan.cursor_field is not None  # noqa: S101 - incremental plans name one
        self._names = (plan.cursor_field, *plan.shape.primary_key)
        self._indexes = [shape.names.index(name) for name in self._names]
        self._order = CursorOrder([shape.columns[i] for i in self._indexes])
        self._csv = file_format == "csv"
        after = plan.after
        self._after = None if after is None else self._order.key([after.cursor, *after.key])

    def key(self, record: bytes) -> tuple[Any, ...]:
        """The record's (cursor, key...) as Python orders them."""
        if not self._csv:
            document = json_record(record)
            return self._order.key([document.get(name) for name in self._names])
        fields = csv_fields(record)
        return self._order.key(
            [_text(fields[i]) if i < len(fields) else None for i in self._indexes]
        )

    def after(self, key: tuple[Any, ...]) -> bool:
        """Whether a row with ``key`` comes after the plan's position."""
        return self._after is None or key > self._after

    def position(self, key: tuple[Any, ...]) -> Position:
        """The position after a row with ``key``."""
        cursor, *rest = key
        return Position(text_form(cursor), tuple(text_form(v) for v in rest))


def _text(field: bytes | None) -> str | None:
    return None if field is None else field.decode("utf-8", errors="replace")


class _RowDecoder:
    """Records as rows of Python values in the plan's column order."""

    def __init__(self, source: Shape, planned: Shape, file_format: str) -> None:
        self._names = planned.names
        self._types = [c.type for c in planned.columns]
        self._indexes = [source.names.index(name) for name in planned.names]
        self._csv = file_format == "csv"

    def decode(self, record: bytes) -> tuple[Any, ...]:
        if self._csv:
            fields = csv_fields(record)
            return tuple(
                decoded(fields[i] if i < len(fields) else None, t)
                for i, t in zip(self._indexes, self._types, strict=True)
            )
        document = json_record(record)
        return tuple(document.get(name) for name in self._names)


class _Peekable(Iterator[bytes]):
    """An iterator that can tell whether anything is left without losing it."""

    def __init__(self, records: Iterator[bytes]) -> None:
        self._records = records
        self._ahead: bytes | None = None

    def more(self) -> bool:
        """Whether another record follows."""
        if self._ahead is None:
            self._ahead = next(self._records, None)
        return self._ahead is not None

    def __next__(self) -> bytes:
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return ahead
        return next(self._records)


T = TypeVar("T")


async def _unbounded(work: Callable[[Budget], T]) -> T:
    """Run ``work`` in a thread with no deadline (a stream read takes as long as its rows),
    telling it to stop when the awaiting task is cancelled."""
    budget = Budget(math.inf)
    try:
        return await asyncio.to_thread(work, budget)
    except asyncio.CancelledError:
        budget.stop()
        raise
    except Stopped:
        raise StreamFailed("the read was stopped; it may be retried", retryable=True) from None


def _after_last_line_break(descriptor: int, size: int) -> int:
    """``size`` cut back to just after the file's last line break (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - READ_BYTES)
        found = os.pread(descriptor, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _checked_plan(stream: str, shape: Shape, plan: ReadPlan) -> None:
    if plan.shape.names != shape.names:
        raise StreamFailed(
            f"the columns of {stream!r} changed: it has ({', '.join(shape.names)}), "
            f"the stream expects ({', '.join(plan.shape.names)})"
        )
    for planned, found in zip(plan.shape.columns, shape.columns, strict=True):
        if planned.type != found.type:
            raise StreamFailed(
                f"the column {found.name!r} changed type: the source has {found.type!r}, "
                f"the stream expects {planned.type!r}"
            )


def _no_stream(stream: str) -> StreamFailed:
    return StreamFailed(f"the folder has no stream {stream!r}")


def folder_reader(
    environment: Environment,
    organization_id: UUID,
    config: FileConfig,
    _secrets: Mapping[str, Any],
) -> FolderStreamReader:
    """The ``file`` kind's stream reader, confined to the organization's own folder."""
    return FolderStreamReader(
        str(environment.organization_root(organization_id)), config, environment.timeout
    )
