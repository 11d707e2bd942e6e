"""A queued run wakes idle workers (LISTEN/NOTIFY): the word goes out when the trigger
commits, never for a trigger rolled back or refused, and a worker polling only every
30 s claims a triggered run at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_run_pipeline_postgres import STREAMS, databases
from tests.integration.test_worker import a_pipeline, endpoints, wait_for
from thedata.adapters.postgres import PostgresRunArrivals
from thedata.domain.runs import Run, RunAlreadyActive, RunStatus, RunTrigger
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve
from thedata.entrypoints.worker import Worker

pytestmark = pytest.mark.postgres
__all__ = ["databases", "endpoints"]  # fixtures
NOW = datetime.now(UTC)


async def test_the_word_goes_out_on_commit_only(
    database_url: str, endpoints: tuple[str, str], tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url, data_root=str(tmp_path), **CHEAP_HASHING)
    async with started(build_container(settings)) as container:
        principal, org, pipeline_id = await a_pipeline(container, *endpoints, STREAMS)
        words: list[float] = []
        stopping = asyncio.Event()
        listening = asyncio.create_task(
            PostgresRunArrivals(database_url, 5).watch(
                lambda: words.append(time.monotonic()), stopping
            )
        )
        await asyncio.sleep(0.5)  # listening now
        async with (await resolve(container.unit_of_work_factory))() as uow:
            queued = Run.queued(uuid.uuid4(), org, pipeline_id, RunTrigger.MANUAL, NOW, 3)
            await uow.runs.add(queued)  # and rolled back: no commit
        trigger = await resolve(container.trigger_run)
        await trigger(principal, org, pipeline_id)
        with pytest.raises(RunAlreadyActive):  # refused: no run inserted, no word
            await trigger(principal, org, pipeline_id)
        await asyncio.sleep(1.5)
        stopping.set()
        await asyncio.wait_for(listening, 5)
    assert len(words) == 1


async def test_an_idle_worker_claims_a_triggered_run_long_before_its_next_poll(
    database_url: str, endpoints: tuple[str, str], tmp_path: Path
) -> None:
    settings = make_settings(
        database_url=database_url, data_root=str(tmp_path), worker_batch_rows=64, **CHEAP_HASHING
    )
    async with started(build_container(settings)) as container:
        principal, org, pipeline_id = await a_pipeline(container, *endpoints, STREAMS)
        worker = Worker(
            await resolve(container.run_queue),
            await resolve(container.execute_run),
            arrivals=PostgresRunArrivals(database_url, 5),
            poll=30,
            reap_every=30,
        )
        stopping = asyncio.Event()
        working = asyncio.create_task(worker.run(stopping))
        try:
            await asyncio.sleep(1.5)  # idle: it polled once at start, and sleeps for 30 s
            run = await (await resolve(container.trigger_run))(principal, org, pipeline_id)
            ended = await wait_for(
                container, principal, org, run.id, lambda r: r.status.finished, 10
            )
        finally:
            stopping.set()
            await working
    assert ended.status is RunStatus.SUCCEEDED, ended.error
