"""A stream in which nothing moves for the stall timeout fails, retryably; one that moves
slowly, but moves, is never cut short."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.unit.test_move_stream_retries import STREAMS, source
from thedata.adapters.memory.streams import (
    InMemoryDatabase,
    InMemoryStreamReader,
    InMemoryStreamWriter,
)
from thedata.application.move_stream import move_stream
from thedata.application.ports import Batch, StreamFailed, Written

STALL = 1.0  # with room for a slow machine: the slow stream pauses 0.3 of it


class PausingWriter(InMemoryStreamWriter):
    """Waits ``pause`` seconds before each batch's write: a slow (or silent) destination."""

    def __init__(self, database: InMemoryDatabase, pause: float) -> None:
        super().__init__(database)
        self._pause = pause

    @asynccontextmanager
    async def open(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with super().open(*args, **kwargs) as sink:
            real_write = sink.write

            async def write(batch: Batch) -> Written:
                await asyncio.sleep(self._pause)
                return await real_write(batch)

            sink.write = write  # type: ignore[method-assign]
            yield sink


async def move(pause: float) -> int:
    outcome = await move_stream(
        InMemoryStreamReader(source()),
        PausingWriter(InMemoryDatabase({}), pause),
        pipeline="p",
        stream=STREAMS["upsert"],
        epoch=1,
        batch_rows=2,
        stall_timeout=STALL,
    )
    return outcome.rows


async def test_a_destination_that_stops_answering_fails_the_stream_in_time() -> None:
    started = time.monotonic()
    with pytest.raises(StreamFailed, match=r"nothing moved for 1 s") as failed:
        await asyncio.wait_for(move(pause=60), timeout=10)
    assert failed.value.retryable
    assert time.monotonic() - started < STALL + 1


async def test_a_slow_stream_that_keeps_moving_is_not_cut_short() -> None:
    """Each batch takes most of the timeout; the whole stream takes several timeouts."""
    started = time.monotonic()
    assert await move(pause=STALL * 0.3) == 9
    assert time.monotonic() - started > STALL  # five pauses: longer than the timeout
