"""The ``file`` kind as a destination: each stream a folder of data files and a manifest.

A stream's table ``T`` is the folder ``<data source folder>/T/``: data files
written under new names, fsynced, then published by replacing
``manifest.json`` (``manifest``), which also holds each pipeline stream's
epoch and position, so state and data change in one step, as in PostgreSQL.

- ``open`` takes the stream for the attempt's epoch (``Superseded`` if a larger
  one holds it) under the folder's lock, which is held only for such short
  steps: a newer attempt never waits for an older one's data.
- ``REPLACE`` writes one new file and publishes it at ``finish``, alone.
- ``APPEND`` publishes each batch as one more file, with its end position.
- ``UPSERT`` publishes each batch as one new file: the batch's rows and every
  old row whose key the batch does not hold (the table is rewritten per batch;
  memory holds the batch, never the table).
- Every publish checks, under the lock, that the epoch is still the attempt's
  and the position the one it last saw (a batch that ends where the position
  already is was in before its answer was lost: it is dropped).

Blocking file work (fsync, locks, merges) runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from typing import Any
from uuid import UUID

from thedata.adapters.connectors.file.config import FileConfig
from thedata.adapters.connectors.file.file_errors import translated
from thedata.adapters.connectors.file.folders import open_folder
from thedata.adapters.connectors.file.manifest import (
    Manifest,
    StreamState,
    load,
    manifest_columns,
    position_of,
    store,
    stored_position,
)
from thedata.adapters.connectors.file.parts import (
    SUFFIX,
    Part,
    csv_fingerprint,
    merge_upsert,
    records,
    sweep,
    widen,
)
from thedata.adapters.connectors.file.storage import StreamFolder
from thedata.adapters.connectors.file.streams import FORMATS, stream_name
from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.names import checked_shape
from thedata.application.ports.streams import (
    Batch,
    Fingerprint,
    FrameFormat,
    Position,
    Shape,
    StreamFailed,
    Superseded,
    WriteMode,
    Written,
)

_TAKEN = "a later attempt holds this stream"


class FolderStream:
    """One attempt's hold on a folder stream."""

    def __init__(
        self,
        folder: StreamFolder,
        file_format: str,
        key: tuple[str, str],
        shape: Shape,
        mode: WriteMode,
        epoch: int,
        position: Position | None,
        timeout: float,
    ) -> None:
        self._folder, self._format, self._key = folder, file_format, key
        self._shape, self._mode, self._epoch = shape, mode, epoch
        self._position, self._timeout = position, timeout
        self._staged: Part | None = None
        self.formats: Sequence[FrameFormat] = (FORMATS[file_format], FrameFormat.ROWS)

    @property
    def position(self) -> Position | None:
        return self._position

    def _part(self, prefix: str | None = None) -> Part:
        suffix = ".tmp" if prefix else SUFFIX[self._format]
        name = self._folder.new_name(prefix or str(self._epoch), suffix)
        return Part(self._folder, name, self._format, self._shape)

    async def write(self, batch: Batch) -> Written:
        with translated():
            return await self._write(batch)

    async def _write(self, batch: Batch) -> Written:
        if self._mode is WriteMode.REPLACE:
            await asyncio.to_thread(self._held)  # a superseded attempt stops loading at once
            if self._staged is None:
                self._staged = self._part()
            before = self._staged.rows
            received = await self._staged.write(batch)
            return Written(self._staged.rows - before, received)
        if batch.end is None:
            raise StreamFailed("an incremental batch must carry its end position")
        part = self._part(".batch" if self._mode is WriteMode.UPSERT else None)
        try:
            received = await part.write(batch)
            rows = part.rows
            published = await asyncio.to_thread(self._publish_batch, part, batch.end)
        finally:
            part.close()
            if self._mode is WriteMode.UPSERT:
                self._folder.remove(part.name)
        return Written(rows if published else 0, received if published else 0)

    def _publish_batch(self, part: Part, end: Position) -> bool:
        """Publish one incremental batch; ``False`` when it was already in."""
        part.sync()
        with self._folder.locked(self._timeout):
            manifest, state = self._held()
            if state.position == stored_position(end):
                self._position = end
                return False  # committed before, its answer lost: already in
            if state.position != stored_position(self._position):
                raise Superseded("another attempt moved this stream on")
            if self._mode is WriteMode.APPEND:
                files, rows = (*manifest.files, part.name), manifest.rows + part.rows
                published: Part | None = None
            else:
                published = self._merged(manifest, part)
                files, rows = (published.name,), published.rows
            try:
                self._commit(manifest, state, files, rows, end)
            finally:
                if published is not None:
                    published.close()
        self._position = end
        return True

    def _merged(self, manifest: Manifest, batch: Part) -> Part:
        """The upsert of ``batch`` into the table's files, as one new durable file."""
        names = self._shape.names
        key = [(names.index(name), name) for name in self._shape.primary_key]
        merged = self._part()
        with ExitStack() as opened:
            old = []
            for name in manifest.files:
                descriptor = self._folder.open(name)
                if descriptor is None:
                    raise StreamFailed(f"the stream's data file {name!r} is missing")
                opened.callback(os.close, descriptor)
                old.append(descriptor)
            batch_file = self._folder.open(batch.name)
            assert batch_file is not None  # noqa: S101 - this attempt holds it
            opened.callback(os.close, batch_file)
            try:
                merge_upsert(self._folder, batch_file, old, merged, self._format, key)
                merged.sync()
            except BaseException:
                merged.close()
                raise
        return merged

    def _held(self) -> tuple[Manifest, StreamState]:
        """The manifest and this stream's state, if the attempt still holds it (under lock)."""
        manifest = load(self._folder)
        state = manifest.state(*self._key) if manifest is not None else None
        if manifest is None or state is None or state.epoch != self._epoch:
            raise Superseded(_TAKEN, holder=state.epoch if state is not None else None)
        return manifest, state

    def _commit(
        self,
        manifest: Manifest,
        state: StreamState,
        files: Sequence[str],
        rows: int,
        end: Position | None,
        *,
        shape: Shape | None = None,
    ) -> None:
        new_state = StreamState(
            state.pipeline, state.stream, state.epoch, state.mode, state.key, stored_position(end)
        )
        self._folder.sync()  # the data files' names are durable before a manifest names them
        store(
            self._folder,
            Manifest(
                format=self._format,  # type: ignore[arg-type]
                columns=manifest_columns(shape) if shape is not None else manifest.columns,
                primary_key=shape.primary_key if shape is not None else manifest.primary_key,
                files=tuple(files),
                rows=rows,
                revision=manifest.revision + 1,
                streams=manifest.with_state(new_state),
            ),
        )
        sweep(self._folder, files)

    async def finish(self) -> None:
        with translated():
            await self._finish()

    async def _finish(self) -> None:
        if self._mode is not WriteMode.REPLACE:
            await asyncio.to_thread(self._held)  # every batch is in; say if it was still ours
            return
        if self._staged is None:
            self._staged = self._part()  # no batch: the table is empty, and still published
        await asyncio.to_thread(self._publish_replace, self._staged)

    def _publish_replace(self, part: Part) -> None:
        part.sync()
        with self._folder.locked(self._timeout):
            manifest, state = self._held()
            self._commit(manifest, state, (part.name,), part.rows, None, shape=self._shape)
        self._position = None

    async def fingerprint(self) -> Fingerprint | None:
        if self._format != "csv":
            return None  # JSON Lines spell values otherwise than their text forms
        with translated():
            return await asyncio.to_thread(self._fingerprint)

    def _fingerprint(self) -> Fingerprint:
        with self._folder.locked(self._timeout):  # the files the manifest names stay
            manifest = load(self._folder)
            files = [] if manifest is None else list(manifest.files)
            opened = [self._folder.open(name) for name in files]
        try:
            return csv_fingerprint(
                record
                for descriptor in opened
                if descriptor is not None
                for record in records(descriptor, "csv")
            )
        finally:
            for descriptor in opened:
                if descriptor is not None:
                    os.close(descriptor)

    def close(self) -> None:
        """Let go of what was not published (the sweep takes it later)."""
        if self._staged is not None:
            self._staged.close()
            self._staged = None


class FolderStreamWriter:
    """Writes streams as folders of data files in the data source's folder."""

    def __init__(self, root: str, config: FileConfig, timeout: float) -> None:
        self._root, self._config, self._timeout = root, config, timeout

    @asynccontextmanager
    async def open(
        self, pipeline: str, stream: str, table: str, shape: Shape, mode: WriteMode, epoch: int
    ) -> AsyncIterator[FolderStream]:
        stream_name(table)
        checked_shape(shape, table)
        if mode is WriteMode.UPSERT and not shape.primary_key:
            raise StreamFailed(f"the stream {stream!r} upserts but names no primary key")
        with translated(), ExitStack() as stack:
            parent = stack.enter_context(open_folder(self._root, self._config.path))
            folder = stack.enter_context(StreamFolder.opened(parent.descriptor, table, create=True))
            position = await asyncio.to_thread(
                self._take, folder, (pipeline, stream), shape, mode, epoch
            )
            opened = FolderStream(
                folder,
                self._config.format,
                (pipeline, stream),
                shape,
                mode,
                epoch,
                position,
                self._timeout,
            )
            try:
                yield opened
            finally:
                opened.close()

    def _take(
        self,
        folder: StreamFolder,
        key: tuple[str, str],
        shape: Shape,
        mode: WriteMode,
        epoch: int,
    ) -> Position | None:
        """Raise the stream's epoch to ``epoch``; the position it keeps (under lock)."""
        with folder.locked(self._timeout):
            manifest = load(folder) or Manifest(self._config.format, manifest_columns(shape))
            state = manifest.state(*key)
            if state is not None and state.epoch > epoch:
                raise Superseded(_TAKEN, holder=state.epoch)
            if manifest.files:
                manifest = _fitted(folder, manifest, shape, self._config.format, mode, epoch)
            same = (
                state is not None
                and state.mode == mode.value
                and tuple(state.key) == tuple(shape.primary_key)
            )
            kept = state.position if same and state is not None else None
            if mode is WriteMode.REPLACE:
                kept = None  # reads everything: no position (nor a stale one)
            taken = StreamState(key[0], key[1], epoch, mode.value, shape.primary_key, kept)
            columns = manifest.columns if manifest.files else manifest_columns(shape)
            store(
                folder,
                Manifest(
                    format=manifest.format if manifest.files else self._config.format,
                    columns=columns,
                    primary_key=manifest.primary_key if manifest.files else shape.primary_key,
                    files=manifest.files,
                    rows=manifest.rows,
                    revision=manifest.revision + 1,
                    streams=manifest.with_state(taken),
                ),
            )
            sweep(folder, manifest.files)
        return position_of(kept)


def _fitted(
    folder: StreamFolder,
    manifest: Manifest,
    shape: Shape,
    file_format: str,
    mode: WriteMode,
    epoch: int,
) -> Manifest:
    """The table's manifest, its files widened with the columns the source gained;
    ``StreamFailed`` naming a column the source dropped or retyped (as in PostgreSQL, a
    full refresh too keeps the table's columns)."""
    wanted = {c.name: c for c in manifest_columns(shape)}
    for column in manifest.columns:
        found = wanted.get(column.name)
        if found is None:
            raise StreamFailed(f"the source no longer has the column {column.name!r}")
        if found.type != column.type:
            raise StreamFailed(
                f"the column {column.name!r} changed type: the files have {column.type!r}, "
                f"the source {found.type!r}"
            )
    columns = manifest_columns(shape)
    if tuple(c.name for c in columns[: len(manifest.columns)]) != tuple(
        c.name for c in manifest.columns
    ):
        raise StreamFailed("the source's columns come in another order than the files'")
    if mode is WriteMode.REPLACE:
        return manifest  # the new files are written whole, with every column
    if manifest.format != file_format:
        raise StreamFailed(
            f"the stream's files are {manifest.format}, the data source writes {file_format}: "
            "a full refresh rewrites them"
        )
    if len(columns) == len(manifest.columns):
        return manifest
    return widen(folder, manifest, columns[len(manifest.columns) :], str(epoch))


def folder_writer(
    environment: Environment,
    organization_id: UUID,
    config: FileConfig,
    _secrets: Mapping[str, Any],
) -> FolderStreamWriter:
    """The ``file`` kind's stream writer, confined to the organization's own folder."""
    return FolderStreamWriter(
        str(environment.organization_root(organization_id)), config, environment.timeout
    )
