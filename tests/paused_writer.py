"""A writer process that stops itself (SIGSTOP) in the middle of its second batch, to be woken
after another attempt took the stream over.

``python -m tests.paused_writer CONFIG_JSON`` with ``{"destination": {...}, "timeout": S,
"pause": "copy" | "locked"}``: appends rows 1-2 (position 2) to table ``t`` of stream ``s`` of
pipeline ``paused`` with epoch 1, prints ``committed``, then writes rows 3-4 and stops either
in their ``COPY`` or once it holds the state row (just before storing the position), printing
``pausing`` first. Woken, it prints how the batch ended (``written`` or the error's class).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.postgres import state
from thedata.application.ports import Batch, Column, FrameFormat, Position, Shape, WriteMode
from thedata.domain.data_sources import DataSourceKind

ORG = uuid.UUID(int=1)
PIPELINE, STREAM, TABLE = "paused", "s", "t"
SHAPE = Shape((Column("id", "bigint", False), Column("note", "text")))


def say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the parent reads these lines


def pause() -> None:
    say("pausing")
    os.kill(os.getpid(), signal.SIGSTOP)


async def rows(ids: range, *, pausing: bool) -> AsyncIterator[tuple[object, ...]]:
    for n, i in enumerate(ids):
        yield (i, f"row {i}")
        if pausing and n == 0:  # the COPY has started: the server waits for the rest
            pause()


def pause_holding_the_row() -> None:
    hold = state.StreamState.hold

    async def paused(self: state.StreamState, connection: Any) -> Position | None:
        committed = await hold(self, connection)
        pause()
        return committed

    state.StreamState.hold = paused  # type: ignore[method-assign]


async def main(settings: dict[str, Any]) -> None:
    factory = DefaultConnectorFactory(
        Path("/nonexistent"),
        NetworkPolicy(allow_private=True),
        settings["timeout"],
        control_database=None,
    )
    writer = factory.writer(ORG, DataSourceKind.POSTGRES, settings["destination"], {})
    async with writer.open(PIPELINE, STREAM, TABLE, SHAPE, WriteMode.APPEND, 1) as sink:
        await sink.write(Batch(FrameFormat.ROWS, rows(range(1, 3), pausing=False), Position("2")))
        say("committed")
        in_copy = settings["pause"] == "copy"
        if not in_copy:
            pause_holding_the_row()
        try:
            await sink.write(
                Batch(FrameFormat.ROWS, rows(range(3, 5), pausing=in_copy), Position("4"))
            )
        except Exception as e:  # the parent wants to know how it ended
            say(type(e).__name__)
            return
        say("written")


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
