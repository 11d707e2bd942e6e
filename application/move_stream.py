"""The engine's core: one stream from a reader to a writer, exactly once.

The destination decides where the read starts (its committed position), which
frame format travels (the best both sides speak) and whether the attempt may
write at all (its epoch). The engine only pairs them up: it never holds more
than the batch in flight, and keeps no state of its own, so an attempt that
dies anywhere is finished by the next one from what the destination committed.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from attrs import evolve, frozen

from thedata.application.ports.streams import (
    Batch,
    Fingerprint,
    FrameFormat,
    Moved,
    Position,
    Progress,
    ReadPlan,
    Retrying,
    Shape,
    StreamFailed,
    StreamReader,
    StreamWriter,
    WriteMode,
    Written,
)
from thedata.domain.pipelines import Stream, StreamMode


class Verdict(enum.Enum):
    """What a verification found."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNAVAILABLE = "unavailable"


@frozen
class Verification:
    """The destination's fingerprint against the source's snapshot, and what that says."""

    verdict: Verdict
    source: Fingerprint | None = None
    destination: Fingerprint | None = None
    reason: str | None = None


def verdict(
    mode: WriteMode, source: Fingerprint | None, destination: Fingerprint | None
) -> Verification:
    """Compare the two sides; say why when they cannot be compared or differ."""
    if mode is WriteMode.APPEND:
        reason = "an appended stream keeps every row version: no one table to compare"
        return Verification(Verdict.UNAVAILABLE, source, destination, reason)
    if source is None or destination is None:
        side = "source" if source is None else "destination"
        reason = f"the {side} cannot take a fingerprint of this stream"
        return Verification(Verdict.UNAVAILABLE, source, destination, reason)
    if (source.rows, source.checksum) == (destination.rows, destination.checksum):
        return Verification(Verdict.MATCH, source, destination)
    reason = (
        "the destination differs from the source's snapshot"
        if source.complete
        else "the source held back rows of transactions running at the read (they come with "
        "the next run), so the destination may differ by those only"
    )
    return Verification(Verdict.MISMATCH, source, destination, reason)


@frozen
class StreamOutcome:
    """What one attempt moved of one stream."""

    rows: int
    bytes: int
    format: FrameFormat
    mode: WriteMode
    position: Position | None = None
    """Where the destination's committed read now stands (``None`` for a full refresh)."""
    estimate: int | None = None
    """About how many rows the source said the stream held, before it was read."""
    verification: Verification | None = None
    """What the check after the stream found (``None``: none was asked for)."""


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
    written: Callable[[Written], None] | None = None,
    retrying: Retrying | None = None,
    verify: bool = False,
    before_batch: Callable[[], None] | None = None,
    stall_timeout: float | None = None,
) -> StreamOutcome:
    """Move ``stream`` for the attempt with ``epoch``; what it moved.

    With ``retrying``, a retryable failure (a lost connection, a timeout, a busy server) is
    tried again within the attempt, from what the destination committed: the batches already
    in stay, and the same epoch opens the stream again where they end. Raises ``Superseded``
    when a later attempt holds the destination (nothing more was committed by this one), and
    ``StreamFailed`` when the stream cannot be moved as defined or the retries ran out.
    ``progress`` hears the stream's figures so far after each batch (a full refresh redone
    starts again from 0); ``written`` hears each batch's own, every batch written counted
    once, a discarded load's too (what metrics count).
    ``before_batch`` is called before each batch is written: it may raise to stop the attempt
    there (a worker that lost its run writes nothing more).
    With ``verify``, the destination's fingerprint is compared with the source's snapshot
    once the stream is published, and the outcome says what was found (never skipped
    silently: when a side cannot tell, it says so).
    With ``stall_timeout``, a step in which nothing moves for that long fails the stream,
    retryably, instead of holding the attempt for good: asking the source for the shape,
    opening the destination, the read (between frames and batches, its first query
    included), publishing and verifying. A source or destination that holds its connection
    and says nothing ends there; so does a step that computes for longer (the first pass of
    a huge table's first incremental read, an index build after a full refresh).
    """
    # side by side: each may open its own connection, and a run with nothing new is short
    async with _Watchdog(stall_timeout):
        found_shape, found_estimate = await asyncio.gather(
            reader.shape(stream.name), reader.estimate(stream.name), return_exceptions=True
        )
    if isinstance(found_shape, BaseException):
        raise found_shape
    if isinstance(found_estimate, StreamFailed):
        found_estimate = None  # only a figure for progress: the read says what is wrong
    elif isinstance(found_estimate, BaseException):
        raise found_estimate
    shape, mode = destination_shape(stream, found_shape)
    estimate = found_estimate
    moved = Moved(0, 0, estimate)

    def advanced(batch: Written) -> None:
        nonlocal moved
        moved = Moved(moved.rows + batch.rows, moved.bytes + batch.bytes, estimate)
        if written is not None:
            written(batch)
        if progress is not None:
            progress(moved)

    async for attempt in (retrying or _ONCE).attempts(_retryable):
        with attempt:
            if mode is WriteMode.REPLACE:  # a load that failed is redone whole
                moved = Moved(0, 0, estimate)
            frame_format, position, verification = await _move_once(
                reader,
                writer,
                pipeline,
                stream,
                shape,
                mode,
                epoch,
                batch_rows,
                advanced,
                verify,
                before_batch,
                stall_timeout,
            )
    return StreamOutcome(
        moved.rows, moved.bytes, frame_format, mode, position, estimate, verification
    )


async def _move_once(
    reader: StreamReader,
    writer: StreamWriter,
    pipeline: str,
    stream: Stream,
    shape: Shape,
    mode: WriteMode,
    epoch: int,
    batch_rows: int,
    advanced: Callable[[Written], None],
    verify: bool,
    before_batch: Callable[[], None] | None,
    stall_timeout: float | None,
) -> tuple[FrameFormat, Position | None, Verification | None]:
    """One go at the stream, from the destination's committed position."""
    source_prints: list[Fingerprint] = []
    fingerprinting = verify and mode is not WriteMode.APPEND
    async with (
        _Watchdog(stall_timeout) as watchdog,
        writer.open(pipeline, stream.name, stream.destination, shape, mode, epoch) as sink,
    ):
        watchdog.moved()
        frame_format = common_format(reader, tuple(sink.formats))
        plan = ReadPlan(
            shape,
            frame_format,
            batch_rows,
            cursor_field=stream.cursor_field if mode is not WriteMode.REPLACE else None,
            after=sink.position if mode is not WriteMode.REPLACE else None,
            fingerprint=source_prints.append if fingerprinting else None,
        )
        async with reader.read(stream.name, plan) as batches:
            async for batch in batches:
                watchdog.moved()
                if before_batch is not None:
                    before_batch()
                advanced(await sink.write(watchdog.watched(batch)))
        watchdog.moved()  # each of what follows has the whole timeout to itself
        await sink.finish()
        position = sink.position if mode is not WriteMode.REPLACE else None
        if not verify:
            return frame_format, position, None
        watchdog.moved()
        destination = await sink.fingerprint() if fingerprinting else None
    source = source_prints[-1] if source_prints else None
    return frame_format, position, verdict(mode, source, destination)


class _Watchdog:
    """A deadline that every frame and batch moves on: when it passes, nothing moved for
    ``seconds`` and the stream fails, retryably (the next try opens new connections)."""

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._timeout = asyncio.timeout(None)

    async def __aenter__(self) -> _Watchdog:
        await self._timeout.__aenter__()
        self.moved()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: Any, tb: Any) -> None:
        try:
            await self._timeout.__aexit__(kind, error, tb)
        except TimeoutError:
            raise StreamFailed(
                f"nothing moved for {self._seconds:g} s: the source or the destination stopped"
                " answering (THEDATA_WORKER_STALL_TIMEOUT)",
                retryable=True,
            ) from None

    def moved(self) -> None:
        if self._seconds is not None:
            self._timeout.reschedule(asyncio.get_running_loop().time() + self._seconds)

    def watched(self, batch: Batch) -> Batch:
        if self._seconds is None:
            return batch
        return evolve(batch, frames=self._frames(batch.frames))

    async def _frames(self, frames: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for frame in frames:
            self.moved()
            yield frame


def _retryable(error: Exception) -> bool:
    return isinstance(error, StreamFailed) and error.retryable


class _Once:
    """One attempt, no retry."""

    async def attempts(
        self, _retryable: Callable[[Exception], bool]
    ) -> AsyncIterator[AbstractContextManager[None]]:
        yield nullcontext()


_ONCE = _Once()
