"""Data files of a folder stream: written from a batch's frames, merged for an upsert.

A part is one CSV (with a header record) or JSON Lines file. While an attempt
writes a part it holds ``flock`` on it, so the sweep that deletes files no
manifest names (left by attempts that died or were superseded) never takes a
file still being written; the kernel drops the lock if the writer dies.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from thedata.adapters.connectors.file.manifest import Manifest, ManifestColumn
from thedata.adapters.connectors.file.records import (
    CsvRecordCounter,
    CsvRecords,
    Lines,
    csv_fields,
    csv_record,
)
from thedata.adapters.connectors.file.storage import StreamFolder, write_all
from thedata.adapters.connectors.file.streams import FORMATS
from thedata.adapters.connectors.file.values import csv_text, json_line, json_record
from thedata.application.fingerprint import FingerprintBuilder
from thedata.application.ports.streams import Batch, Fingerprint, FrameFormat, Shape, StreamFailed

WRITE_BYTES = 256 * 1024
READ_BYTES = 1024 * 1024
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl"}
_SWEPT = re.compile(r"\d+-[0-9a-f]{12}\.(?:csv|jsonl)|\.(?:manifest|batch|new)-[0-9a-f]{12}\.tmp")


class Part:
    """One data file being written, locked until it is published or given up."""

    def __init__(self, folder: StreamFolder, name: str, file_format: str, shape: Shape) -> None:
        self.name, self._format, self._shape = name, file_format, shape
        # made under a name the sweep takes only unlocked, locked, and only then named: a sweep
        # between the two steps unlinks the new file, and the rename then fails loudly
        # (retryably) instead of a manifest naming a file that is gone
        made = folder.new_name(".new", ".tmp")
        self.descriptor = folder.create(made)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folder.replace(made, name, durably=False)
        except BaseException:
            os.close(self.descriptor)
            raise
        self.rows = 0
        self._buffer = bytearray()
        if file_format == "csv":
            self._buffer += csv_record(name.encode() for name in shape.names)

    def _flush(self, at_least: int = 0) -> None:
        if len(self._buffer) > at_least:
            write_all(self.descriptor, self._buffer)
            self._buffer = bytearray()

    async def write(self, batch: Batch) -> int:
        """Append the batch's frames; the bytes they held."""
        if batch.format is FrameFormat.ROWS:
            return await self._write_rows(batch.frames)  # type: ignore[arg-type]
        if batch.format is not FORMATS[self._format]:
            raise StreamFailed(f"a {batch.format.value} batch reached a {self._format} folder")
        counter = CsvRecordCounter() if self._format == "csv" else None
        received, last = 0, b"\n"
        async for chunk in batch.frames:
            if not isinstance(chunk, bytes | bytearray | memoryview) or not chunk:
                if isinstance(chunk, bytes | bytearray | memoryview):
                    continue
                raise StreamFailed("a text batch carried something other than bytes")
            received += len(chunk)
            if counter is not None:
                counter.feed(chunk)
            else:
                self.rows += bytes(chunk).count(b"\n")
            last = bytes(chunk[-1:])
            self._buffer += chunk
            self._flush(WRITE_BYTES)
        if counter is not None:
            if not counter.complete:
                raise StreamFailed("a CSV batch ended inside a quoted field")
            self.rows += counter.records
        if last != b"\n":  # a last record without its line break: it is one all the same
            self._buffer += b"\n"
            self.rows += 1
        self._flush()
        return received

    async def _write_rows(self, rows: AsyncIterator[tuple[Any, ...]]) -> int:
        names, types = self._shape.names, [c.type for c in self._shape.columns]
        received = 0
        async for row in rows:
            if not isinstance(row, tuple) or len(row) != len(names):
                raise StreamFailed(f"a row of the batch does not have {len(names)} values")
            if self._format == "csv":
                record = csv_record(csv_text(v, t) for v, t in zip(row, types, strict=True))
            else:
                record = json_line(names, row, types)
            received += len(record)
            self.rows += 1
            self._buffer += record
            self._flush(WRITE_BYTES)
        self._flush()
        return received

    def add(self, record: bytes) -> None:
        """Append one whole record."""
        self._buffer += record
        self.rows += 1
        self._flush(WRITE_BYTES)

    def sync(self) -> None:
        """Make the bytes durable (before any manifest names the file)."""
        self._flush()
        os.fsync(self.descriptor)

    def close(self) -> None:
        """Let go of the file (and its lock)."""
        os.close(self.descriptor)


def chunks(descriptor: int, size: int | None = None) -> Iterator[bytes]:
    """A file's bytes from its start (whoever read it before), up to ``size`` (the end if
    ``None``), in chunks."""
    offset = 0
    while size is None or offset < size:
        wanted = READ_BYTES if size is None else min(READ_BYTES, size - offset)
        chunk = os.pread(descriptor, wanted, offset)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def records(descriptor: int, file_format: str, size: int | None = None) -> Iterator[bytes]:
    """A data file's records up to ``size`` bytes, each ending in ``\\n`` (a CSV file's
    header skipped)."""
    cutter: CsvRecords | Lines = CsvRecords() if file_format == "csv" else Lines()

    def every() -> Iterator[bytes]:
        for chunk in chunks(descriptor, size):
            yield from cutter.feed(chunk)
        yield from cutter.end()

    found = every()
    if file_format == "csv":
        next(found, None)  # the header
    yield from found


def csv_fingerprint(records: Iterable[bytes]) -> Fingerprint:
    """The fingerprint of CSV records holding PostgreSQL's text forms."""
    builder = FingerprintBuilder()
    try:
        for record in records:
            builder.add(None if f is None else f.decode("utf-8") for f in csv_fields(record))
    except UnicodeDecodeError:
        raise StreamFailed("a value is not UTF-8 text") from None
    return builder.result()


def record_key(record: bytes, file_format: str, key: Sequence[tuple[int, str]]) -> tuple[Any, ...]:
    """The values of a record's key columns (by index for CSV, by name for JSON Lines), as
    bytes that are equal exactly when the values are."""
    if file_format == "csv":
        fields = csv_fields(record)
        return tuple(fields[index] if index < len(fields) else None for index, _ in key)
    document = json_record(record)
    return tuple(None if (v := document.get(name)) is None else repr(v) for _, name in key)


def merge_upsert(
    folder: StreamFolder,
    batch: int,
    old: Sequence[int],
    merged: Part,
    file_format: str,
    key: Sequence[tuple[int, str]],
) -> None:
    """Write into ``merged`` the batch's rows (the last one of each key) and then every old
    row whose key the batch does not hold. Memory: the batch's rows, never the table's."""
    latest: dict[tuple[Any, ...], bytes] = {}
    for record in records(batch, file_format):
        found = record_key(record, file_format, key)
        if any(value is None for value in found):
            raise StreamFailed("a row of an upsert has no value for a key column")
        latest.pop(found, None)  # the last occurrence wins, and goes last
        latest[found] = record
    for record in latest.values():
        merged.add(record)
    for descriptor in old:
        for record in records(descriptor, file_format):
            if record_key(record, file_format, key) not in latest:
                merged.add(record)


def sweep(folder: StreamFolder, keep: Sequence[str]) -> None:
    """Delete the engine's files that no manifest names and no live attempt holds."""
    kept = set(keep)
    for name in folder.names():
        if name in kept or not _SWEPT.fullmatch(name):
            continue
        descriptor = folder.open(name)
        if descriptor is None:
            continue
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # an attempt is still writing it
            folder.remove(name)
        finally:
            os.close(descriptor)


def widen(
    folder: StreamFolder, manifest: Manifest, added: Sequence[ManifestColumn], prefix: str
) -> Manifest:
    """The table with ``added`` columns, NULL in every row it holds: JSON Lines records need
    nothing (a missing key is NULL); CSV files are written again with empty fields."""
    columns = (*manifest.columns, *added)
    widened = msgspec.structs.replace(manifest, columns=columns)
    if manifest.format != "csv":
        return widened
    nulls = b"," * len(added) + b"\n"
    files = []
    for name in manifest.files:
        descriptor = folder.open(name)
        if descriptor is None:
            raise StreamFailed(f"the stream's data file {name!r} is missing")
        part = Part(folder, folder.new_name(prefix, ".csv"), "csv", widened.shape)
        try:
            for record in records(descriptor, "csv"):
                part.add(record.removesuffix(b"\n").removesuffix(b"\r") + nulls)
            part.sync()
        finally:
            os.close(descriptor)
            part.close()
        files.append(part.name)
    return msgspec.structs.replace(widened, files=tuple(files))
