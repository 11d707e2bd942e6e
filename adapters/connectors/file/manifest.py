"""A published stream of a folder: its manifest names its data files and holds its state.

``<folder>/<table>/manifest.json`` is the one place a destination stream is
published: the columns (with PostgreSQL types, so a round trip keeps them), the
data files that make the table, in order, and each pipeline stream's state
(epoch, position, definition) beside them. A publish writes a new manifest to
a temporary name, fsyncs it and renames it over the old one, so readers see
the old files or the new ones, never a mix; a file the manifest does not name
is not data. ``revision`` counts publishes, for compare-and-set.
"""

from __future__ import annotations

import os
import re
from typing import Literal

import msgspec

from thedata.adapters.connectors.file.storage import StreamFolder, durable_close, write_all
from thedata.application.ports.streams import Column, Position, Shape, StreamFailed

MANIFEST = "manifest.json"
DATA_FILE = re.compile(r"\d+-[0-9a-f]{12}\.(?:csv|jsonl)")
"""The names the engine gives data files: ``<epoch>-<token>.<format>``, nothing else."""
DAMAGED = "a stream's manifest is damaged or not this service's"
_MOST_BYTES = 64 * 1024 * 1024


class ManifestColumn(msgspec.Struct, frozen=True):
    name: str
    type: str
    nullable: bool = True


class ManifestPosition(msgspec.Struct, frozen=True):
    cursor: str
    key: tuple[str, ...] = ()
    snapshot: str | None = None


class StreamState(msgspec.Struct, frozen=True):
    """One pipeline stream's hold on the table: what the Postgres writer's state row holds."""

    pipeline: str
    stream: str
    epoch: int
    mode: str
    key: tuple[str, ...] = ()
    position: ManifestPosition | None = None


class Manifest(msgspec.Struct, frozen=True):
    format: Literal["csv", "jsonl"]
    columns: tuple[ManifestColumn, ...]
    primary_key: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    rows: int = 0
    revision: int = 0
    streams: tuple[StreamState, ...] = ()
    version: int = 1

    @property
    def shape(self) -> Shape:
        """The table's columns and key, as the writer was given them."""
        return Shape(
            tuple(Column(c.name, c.type, c.nullable) for c in self.columns), self.primary_key
        )

    def state(self, pipeline: str, stream: str) -> StreamState | None:
        """The state of ``(pipeline, stream)``, if it ever held this table."""
        return next(
            (s for s in self.streams if s.pipeline == pipeline and s.stream == stream), None
        )

    def with_state(self, state: StreamState) -> tuple[StreamState, ...]:
        """The states with ``state`` put in for its pipeline stream."""
        others = tuple(
            s for s in self.streams if (s.pipeline, s.stream) != (state.pipeline, state.stream)
        )
        return (*others, state)


def manifest_columns(shape: Shape) -> tuple[ManifestColumn, ...]:
    """A shape's columns as a manifest keeps them."""
    return tuple(ManifestColumn(c.name, c.type, c.nullable) for c in shape.columns)


def position_of(stored: ManifestPosition | None) -> Position | None:
    """A stored position as the engine's."""
    if stored is None:
        return None
    return Position(stored.cursor, tuple(stored.key), stored.snapshot)


def stored_position(position: Position | None) -> ManifestPosition | None:
    """The engine's position as a manifest stores it."""
    if position is None:
        return None
    return ManifestPosition(position.cursor, tuple(position.key), position.snapshot)


def load(folder: StreamFolder) -> Manifest | None:
    """The folder's manifest; ``None`` when nothing was ever published there."""
    descriptor = folder.open(MANIFEST)
    if descriptor is None:
        return None
    try:
        size = os.fstat(descriptor).st_size
        if size > _MOST_BYTES:
            raise StreamFailed("a stream's manifest is too large to be one this service wrote")
        data = os.read(descriptor, size + 1)
    finally:
        os.close(descriptor)
    try:
        manifest = msgspec.json.decode(data, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise StreamFailed(DAMAGED) from None
    if not all(DATA_FILE.fullmatch(name) for name in manifest.files):
        raise StreamFailed(DAMAGED)  # a name of ours never leads anywhere: nor may a forged one
    return manifest


def store(folder: StreamFolder, manifest: Manifest) -> None:
    """Publish ``manifest``: written aside, fsynced, renamed over the old one, durably."""
    name = folder.new_name(".manifest", ".tmp")
    descriptor = folder.create(name)
    try:
        write_all(descriptor, msgspec.json.encode(manifest))
    except BaseException:
        os.close(descriptor)
        folder.remove(name)
        raise
    durable_close(descriptor)
    folder.replace(name, MANIFEST)
