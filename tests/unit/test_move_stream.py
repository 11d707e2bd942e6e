"""The engine on memory adapters: every mode moves a stream exactly once, whatever interrupts it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from thedata.adapters.memory.streams import (
    InMemoryDatabase,
    InMemoryStreamReader,
    InMemoryStreamWriter,
    InMemoryTable,
)
from thedata.application.move_stream import move_stream
from thedata.application.ports import (
    Batch,
    Column,
    Shape,
    StreamFailed,
    Superseded,
    WriteMode,
    Written,
)
from thedata.domain.pipelines import Stream, StreamMode

SHAPE = Shape(
    (Column("id", "bigint", False), Column("updated", "bigint"), Column("value", "text")),
    ("id",),
)
FULL = Stream("orders", "orders_copy", StreamMode.FULL_REFRESH)
UPSERT = Stream("orders", "orders_copy", StreamMode.INCREMENTAL, "updated", ("id",))
APPEND = Stream("orders", "orders_log", StreamMode.INCREMENTAL, "updated")


class Crash(Exception):
    """The worker died here."""


class CrashingWriter(InMemoryStreamWriter):
    """A writer whose attempt dies after ``batches`` batches were written (before the next)."""

    def __init__(self, database: InMemoryDatabase, batches: int) -> None:
        super().__init__(database)
        self._left = batches

    @asynccontextmanager
    async def open(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with super().open(*args, **kwargs) as sink:
            writer = self
            real_write = sink.write

            async def write(batch: Batch) -> Written:
                if writer._left == 0:
                    raise Crash
                writer._left -= 1
                return await real_write(batch)

            sink.write = write  # type: ignore[method-assign]
            yield sink


def source_with(rows: list[tuple[int, int, str]]) -> InMemoryDatabase:
    return InMemoryDatabase({"orders": InMemoryTable(SHAPE, [tuple(r) for r in rows])})


async def run(
    source: InMemoryDatabase,
    destination: InMemoryDatabase,
    stream: Stream,
    epoch: int,
    writer: InMemoryStreamWriter | None = None,
    batch_rows: int = 2,
) -> int:
    outcome = await move_stream(
        InMemoryStreamReader(source),
        writer or InMemoryStreamWriter(destination),
        pipeline="p",
        stream=stream,
        epoch=epoch,
        batch_rows=batch_rows,
    )
    return outcome.rows


async def test_a_full_refresh_replaces_the_table_at_its_end() -> None:
    """The destination holds the source's rows; an interrupted refresh leaves the old table."""
    source = source_with([(1, 1, "a"), (2, 1, "b")])
    destination = InMemoryDatabase()
    assert await run(source, destination, FULL, 1) == 2
    source.tables["orders"].rows.append((3, 2, "c"))
    with pytest.raises(Crash):
        await run(source, destination, FULL, 2, CrashingWriter(destination, 0))
    assert destination.tables["orders_copy"].rows == [(1, 1, "a"), (2, 1, "b")]
    await run(source, destination, FULL, 3)
    assert destination.tables["orders_copy"].rows == source.tables["orders"].rows


async def test_an_interrupted_append_resumes_without_duplicates() -> None:
    """Dead after two batches: the next attempt appends only what is missing."""
    rows = [(n, n // 3, f"v{n}") for n in range(10)]  # ties on the cursor across batches
    source, destination = source_with(rows), InMemoryDatabase()
    with pytest.raises(Crash):
        await run(source, destination, APPEND, 1, CrashingWriter(destination, 2))
    assert len(destination.tables["orders_log"].rows) == 4
    await run(source, destination, APPEND, 2)
    assert sorted(destination.tables["orders_log"].rows) == sorted(rows)


async def test_a_superseded_attempt_commits_nothing_more() -> None:
    """Once a later attempt opened the stream, the earlier one's writes are refused."""
    source, destination = source_with([(1, 1, "a"), (2, 2, "b")]), InMemoryDatabase()
    writer = InMemoryStreamWriter(destination)
    async with writer.open("p", "orders", "orders_copy", SHAPE, WriteMode.UPSERT, 1) as old:
        async with writer.open("p", "orders", "orders_copy", SHAPE, WriteMode.UPSERT, 2):
            pass
        with pytest.raises(Superseded):
            await old.write(await first_batch(source))
    assert destination.tables["orders_copy"].rows == []
    with pytest.raises(Superseded):
        await run(source, destination, UPSERT, 1)


async def first_batch(source: InMemoryDatabase) -> Batch:
    from thedata.application.ports import FrameFormat, ReadPlan

    plan = ReadPlan(SHAPE, FrameFormat.ROWS, 10, "updated")
    async with InMemoryStreamReader(source).read("orders", plan) as batches:
        async for batch in batches:
            return batch
    raise AssertionError("no batch")


async def test_a_null_cursor_fails_the_stream_by_name() -> None:
    """Never a silent skip: the stream fails, naming the column."""
    source, destination = source_with([(1, None, "a")]), InMemoryDatabase()  # type: ignore[list-item]
    with pytest.raises(StreamFailed, match="'updated'"):
        await run(source, destination, UPSERT, 1)


class EngineMachine(RuleBasedStateMachine):
    """Random source changes, runs interrupted after any batch, then a full rerun.

    Oracle: the source itself. After a run that completes, an upsert stream's
    destination equals the source, and a full refresh's too; interrupted runs
    may leave it behind but never wrong (no row the source never had).
    """

    def __init__(self) -> None:
        super().__init__()
        self.source = InMemoryDatabase({"orders": InMemoryTable(SHAPE)})
        self.destination = InMemoryDatabase()
        self.clock = 1
        self.epochs = itertools.count(1)
        self.loop = asyncio.new_event_loop()

    def teardown(self) -> None:
        self.loop.close()

    def rows(self) -> dict[int, tuple[Any, ...]]:
        return {row[0]: row for row in self.source.tables["orders"].rows}

    @rule(ids=st.lists(st.integers(0, 30), min_size=1, max_size=6), tie=st.booleans())
    def write(self, ids: list[int], tie: bool) -> None:
        """Insert or update rows; several share one cursor value unless the clock moves."""
        current = self.rows()
        for row_id in ids:
            if not tie:
                self.clock += 1
            current[row_id] = (row_id, self.clock, f"v{self.clock}-{row_id}")
        self.source.tables["orders"].rows = list(current.values())

    @rule(
        stream=st.sampled_from([UPSERT, FULL]),
        batches=st.integers(0, 4),
        batch_rows=st.integers(1, 4),
    )
    def interrupted_run(self, stream: Stream, batches: int, batch_rows: int) -> None:
        self.clock += 1  # what a read saw is in the past of every later write
        writer = CrashingWriter(self.destination, batches)
        with contextlib.suppress(Crash):
            self.loop.run_until_complete(
                run(self.source, self.destination, stream, next(self.epochs), writer, batch_rows)
            )

    @rule(stream=st.sampled_from([UPSERT, FULL]), batch_rows=st.integers(1, 4))
    def complete_run(self, stream: Stream, batch_rows: int) -> None:
        self.clock += 1
        self.loop.run_until_complete(
            run(self.source, self.destination, stream, next(self.epochs), None, batch_rows)
        )
        copy = self.destination.tables["orders_copy"].rows
        assert sorted(copy) == sorted(self.rows().values())

    @precondition(lambda self: "orders_copy" in self.destination.tables)
    @invariant()
    def never_a_row_the_source_did_not_have(self) -> None:
        history = {row[0] for row in self.source.tables["orders"].rows}
        ids = [row[0] for row in self.destination.tables["orders_copy"].rows]
        assert len(ids) == len(set(ids))
        assert set(ids) <= history


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
