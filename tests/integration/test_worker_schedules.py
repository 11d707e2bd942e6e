"""Scheduled runs as a user gets them: a real ``thedata worker`` queues (and runs) the runs of
due schedules."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_run_pipeline_postgres import STREAMS, databases
from tests.integration.test_worker import _worker, a_pipeline, endpoints
from thedata.domain.pagination import PageRequest
from thedata.domain.runs import Run, RunTrigger
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = pytest.mark.postgres
__all__ = ["databases", "endpoints"]  # the fixtures


async def test_thedata_worker_queues_the_runs_of_due_schedules(
    database_url: str, endpoints: tuple[str, str], tmp_path: Path
) -> None:
    """A pipeline due every 60 s, created five minutes ago: within 10 s of ``thedata worker``
    starting, one scheduled run (one catch-up, not five) is queued for it."""
    source_url, destination_url = endpoints
    settings = make_settings(database_url=database_url, data_root=str(tmp_path), **CHEAP_HASHING)
    async with started(build_container(settings)) as container:
        principal, org, pipeline_id = await a_pipeline(
            container, source_url, destination_url, STREAMS
        )
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                "UPDATE pipelines SET schedule = '{\"every_seconds\": 60}',"
                " created_at = now() - interval '5 minutes' WHERE id = %s",
                (pipeline_id,),
            )
        variables = {
            "THEDATA_DATABASE_URL": database_url,
            "THEDATA_DATA_ROOT": str(tmp_path),
            "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",
            "THEDATA_MIGRATE_ON_START": "false",
        }
        worker = _worker(variables, tmp_path)
        list_runs = await resolve(container.list_runs)
        try:
            deadline = time.monotonic() + 10
            scheduled: list[Run] = []
            while not scheduled and time.monotonic() < deadline:
                page = await list_runs(principal, org, PageRequest(), pipeline_id=pipeline_id)
                scheduled = [r for r in page.items if r.trigger is RunTrigger.SCHEDULE]
                await asyncio.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    assert len(scheduled) == 1, "one catch-up run for a pipeline due 4 times over"
