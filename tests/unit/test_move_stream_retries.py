"""Retryable failures tried again inside an attempt, from what the destination committed; and
what a stream reports as it goes (rows, bytes, the source's estimate)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import stamina

from thedata.adapters.connectors import StaminaRetrying
from thedata.adapters.memory.streams import (
    InMemoryDatabase,
    InMemoryStreamReader,
    InMemoryStreamWriter,
    InMemoryTable,
)
from thedata.application.move_stream import StreamOutcome, Verdict, Verification, move_stream
from thedata.application.ports import (
    Batch,
    Column,
    Moved,
    Shape,
    StreamFailed,
    Superseded,
    Written,
)
from thedata.domain.pipelines import Stream, StreamMode

SHAPE = Shape(
    (Column("id", "bigint", False), Column("updated", "bigint"), Column("value", "text")),
    ("id",),
)
STREAMS = {
    "full": Stream("orders", "orders_copy", StreamMode.FULL_REFRESH),
    "upsert": Stream("orders", "orders_copy", StreamMode.INCREMENTAL, "updated", ("id",)),
    "append": Stream("orders", "orders_log", StreamMode.INCREMENTAL, "updated"),
}
ROWS = [(n, n // 2, f"v{n}") for n in range(1, 10)]


@pytest.fixture(autouse=True)
def _instant_waits() -> Iterator[None]:
    stamina.set_testing(True, attempts=4)
    yield
    stamina.set_testing(False)


class FailingWriter(InMemoryStreamWriter):
    """Fails the writes numbered in ``failing`` (counted over every open) with ``error``."""

    def __init__(self, database: InMemoryDatabase, failing: set[int], error: Exception) -> None:
        super().__init__(database)
        self.writes, self._failing, self._error = 0, failing, error

    @asynccontextmanager
    async def open(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with super().open(*args, **kwargs) as sink:
            real_write = sink.write

            async def write(batch: Batch) -> Written:
                number, self.writes = self.writes, self.writes + 1
                if number in self._failing:
                    raise self._error
                return await real_write(batch)

            sink.write = write  # type: ignore[method-assign]
            yield sink


def source() -> InMemoryDatabase:
    return InMemoryDatabase({"orders": InMemoryTable(SHAPE, list(ROWS))})


async def move(writer: InMemoryStreamWriter, kind: str, **options: Any) -> StreamOutcome:
    """The ``kind`` stream of ``source()`` moved through ``writer`` in batches of 2, retried
    by stamina."""
    return await move_stream(
        InMemoryStreamReader(source()),
        writer,
        pipeline="p",
        stream=STREAMS[kind],
        epoch=1,
        batch_rows=2,
        retrying=StaminaRetrying(),
        **options,
    )


@pytest.mark.parametrize("kind", ["full", "upsert", "append"])
async def test_a_retryable_failure_mid_stream_is_tried_again_from_the_committed_batches(
    kind: str,
) -> None:
    """A write fails as a lost connection would (the third; a full refresh's only one): the
    stream still arrives whole and once, and the rows reported are the rows in the
    destination (a full refresh's failed load is not counted)."""
    destination = InMemoryDatabase()
    failing = {0} if kind == "full" else {2}
    writer = FailingWriter(destination, failing, StreamFailed("connection lost", retryable=True))
    seen: list[Moved] = []
    outcome = await move(writer, kind, progress=seen.append)
    table = destination.tables[STREAMS[kind].destination].rows
    assert sorted(table) == sorted(ROWS)  # the append holds each row once
    assert outcome.rows == len(ROWS)
    assert seen[-1] == Moved(len(ROWS), outcome.bytes, len(ROWS))
    assert writer.writes > max(failing) + 1  # it did fail, and went on


@pytest.mark.parametrize(
    "error",
    [StreamFailed("permission denied"), Superseded("a later attempt holds this stream")],
)
async def test_permanent_failures_and_takeovers_are_not_retried(error: Exception) -> None:
    destination = InMemoryDatabase()
    writer = FailingWriter(destination, {1}, error)
    with pytest.raises(type(error)):
        await move(writer, "upsert")
    assert writer.writes == 2
    assert len(destination.tables["orders_copy"].rows) == 2  # the first batch stays


async def test_retries_run_out_with_the_last_failure() -> None:
    destination = InMemoryDatabase()
    writer = FailingWriter(destination, set(range(100)), StreamFailed("busy", retryable=True))
    with pytest.raises(StreamFailed, match="busy"):
        await move(writer, "append")
    assert writer.writes == 4


async def test_without_retrying_a_retryable_failure_ends_the_attempt() -> None:
    writer = FailingWriter(InMemoryDatabase(), {0}, StreamFailed("lost", retryable=True))
    with pytest.raises(StreamFailed):
        await move_stream(
            InMemoryStreamReader(source()),
            writer,
            pipeline="p",
            stream=STREAMS["append"],
            epoch=1,
            batch_rows=2,
        )
    assert writer.writes == 1


async def test_a_verified_stream_says_match_or_why_not_in_memory_too() -> None:
    destination = InMemoryDatabase()
    unkeyed = InMemoryDatabase({"orders": InMemoryTable(Shape(SHAPE.columns), list(ROWS))})

    async def verified(database: InMemoryDatabase, kind: str, epoch: int) -> Verification:
        outcome = await move_stream(
            InMemoryStreamReader(database),
            InMemoryStreamWriter(destination),
            pipeline="p",
            stream=STREAMS[kind],
            epoch=epoch,
            batch_rows=2,
            verify=True,
        )
        assert outcome.verification is not None
        return outcome.verification

    full = await verified(source(), "full", 1)
    assert full.verdict is Verdict.MATCH
    assert full.source is not None
    assert full.source.rows == len(ROWS)
    assert (await verified(unkeyed, "append", 1)).verdict is Verdict.UNAVAILABLE
    destination.tables["orders_copy"].rows.pop()  # lost behind the engine's back
    upsert = await verified(source(), "upsert", 2)  # a new definition: it reads everything
    assert upsert.verdict is Verdict.MATCH
    destination.tables["orders_copy"].rows.pop()
    assert (await verified(source(), "upsert", 3)).verdict is Verdict.MISMATCH
