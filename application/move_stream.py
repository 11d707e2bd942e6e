"""The engine's core: one stream from a reader to a writer, exactly once.

The destination decides where the read starts (its committed position), which
frame format travels (the best both sides speak) and whether the attempt may
write at all (its epoch). The engine only pairs them up: it never holds more
than the batch in flight, and keeps no state of its own, so an attempt that
dies anywhere is finished by the next one from what the destination committed.
"""

from __future__ import annotations

from attrs import frozen

from thedata.application.ports.streams import (
    FrameFormat,
    Position,
    Progress,
    ReadPlan,
    Shape,
    StreamFailed,
    StreamReader,
    StreamWriter,
    WriteMode,
    Written,
)
from thedata.domain.pipelines import Stream, StreamMode


@frozen
class StreamOutcome:
    """What one attempt moved of one stream."""

    rows: int
    bytes: int
    format: FrameFormat
    mode: WriteMode
    position: Position | None = None
    """Where the destination's committed read now stands (``None`` for a full refresh)."""


def destination_shape(stream: Stream, source: Shape) -> tuple[Shape, WriteMode]:
    """The shape the destination gets and how rows land, from the stream's definition.

    An incremental stream's cursor and key columns must exist in the source;
    its key is the stream's ``primary_key`` or, when that is empty, the
    source's own. Without either, rows are appended.
    """
    names = set(source.names)
    missing = [
        column
        for column in (stream.cursor_field, *stream.primary_key)
        if column is not None and column not in names
    ]
    if missing:
        raise StreamFailed(f"the source has no column {missing[0]!r} (stream {stream.name!r})")
    key = stream.primary_key or source.primary_key
    if stream.mode is StreamMode.FULL_REFRESH:
        return Shape(source.columns, key), WriteMode.REPLACE
    if stream.cursor_field is None:
        raise StreamFailed(f"the incremental stream {stream.name!r} names no cursor column")
    return Shape(source.columns, key), WriteMode.UPSERT if key else WriteMode.APPEND


def common_format(reader: StreamReader, accepted: tuple[FrameFormat, ...]) -> FrameFormat:
    """The destination's most preferred format that the source can produce."""
    produced = set(reader.formats)
    for candidate in accepted:
        if candidate in produced:
            return candidate
    raise StreamFailed("the source and the destination share no data format")


async def move_stream(
    reader: StreamReader,
    writer: StreamWriter,
    *,
    pipeline: str,
    stream: Stream,
    epoch: int,
    batch_rows: int,
    progress: Progress | None = None,
) -> StreamOutcome:
    """Move ``stream`` for the attempt with ``epoch``; what it moved.

    Raises ``Superseded`` when a later attempt holds the destination (nothing
    more was committed by this one), and ``StreamFailed`` when the stream
    cannot be moved as defined.
    """
    shape, mode = destination_shape(stream, await reader.shape(stream.name))
    moved = Written(0, 0)
    async with writer.open(pipeline, stream.name, stream.destination, shape, mode, epoch) as sink:
        frame_format = common_format(reader, tuple(sink.formats))
        plan = ReadPlan(
            shape,
            frame_format,
            batch_rows,
            cursor_field=stream.cursor_field if mode is not WriteMode.REPLACE else None,
            after=sink.position if mode is not WriteMode.REPLACE else None,
        )
        async with reader.read(stream.name, plan) as batches:
            async for batch in batches:
                written = await sink.write(batch)
                moved = Written(moved.rows + written.rows, moved.bytes + written.bytes)
                if progress is not None:
                    progress(moved)
        await sink.finish()
        position = sink.position if mode is not WriteMode.REPLACE else None
    return StreamOutcome(moved.rows, moved.bytes, frame_format, mode, position)
