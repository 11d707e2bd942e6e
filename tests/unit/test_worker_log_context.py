"""Every line written while a worker runs an attempt names the run and the attempt, whoever
writes it (a connector, a retry, the engine), so one run's story can be read in the logs."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import structlog

from thedata.application.use_cases import QueueBacklog
from thedata.domain.runs import Run, RunTrigger
from thedata.entrypoints.worker import Worker

NOW = datetime(2026, 11, 30, tzinfo=UTC)


class OneRunQueue:
    """A queue holding one run, claimed once; nothing to reap."""

    def __init__(self, run: Run) -> None:
        self.run: Run | None = run

    async def claim(self, worker_id: str) -> Run | None:
        run, self.run = self.run, None
        return run.claim(worker_id, NOW, timedelta(seconds=30), 1) if run else None

    async def reap(self) -> list[Run]:
        return []

    async def backlog(self) -> QueueBacklog:
        return QueueBacklog(0, 0.0)


async def test_lines_written_during_an_attempt_carry_its_run_and_attempt(
    log_lines: io.StringIO,
) -> None:
    run = Run.queued(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), RunTrigger.MANUAL, NOW, 3)
    done = asyncio.Event()

    async def execute(claimed: Run, stopping: asyncio.Event) -> Run:
        structlog.get_logger("thedata.somewhere.deep").info("moving a stream")
        done.set()
        return claimed.succeeded(NOW)

    stopping = asyncio.Event()
    worker = Worker(OneRunQueue(run), execute, poll=0.01)  # type: ignore[arg-type]
    working = asyncio.create_task(worker.run(stopping))
    await asyncio.wait_for(done.wait(), 10)
    stopping.set()
    await working
    structlog.get_logger("thedata.somewhere.else").info("after the attempt")
    lines = {line["event"]: line for line in map(json.loads, log_lines.getvalue().splitlines())}
    assert (lines["moving a stream"]["run_id"], lines["moving a stream"]["attempt"]) == (
        str(run.id),
        1,
    )
    assert lines["run attempt ended"]["run_id"] == str(run.id)
    assert "run_id" not in lines["after the attempt"]
    assert "run_id" not in lines["worker stopped"]
