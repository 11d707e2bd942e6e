"""Workers executing runs from the queue on PostgreSQL, in-process (real processes, killed
and stopped, are in ``test_worker_kill`` and ``test_worker_faults``).

The oracle is the source database itself, read independently of the engine.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tests.conftest import make_settings, tcp_endpoint
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_cli import THEDATA, clean_env
from tests.integration.test_run_pipeline_folders import organization
from tests.integration.test_run_pipeline_postgres import STREAMS, databases, table
from tests.scraped import scraped, value
from thedata.application.use_cases import NewDataSource, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream
from thedata.domain.runs import Run, RunStatus
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve
from thedata.entrypoints.worker import Worker

pytestmark = pytest.mark.postgres
__all__ = ["databases"]  # the fixture: a source database with tables, an empty destination


async def a_pipeline(
    container: Container, source_url: str, destination_url: str, streams: list[Stream]
) -> tuple[Any, UUID, UUID]:
    """An owner, their organization, and a pipeline between the two databases (over TCP)."""
    principal, org = await organization(container)
    create_source = await resolve(container.create_data_source)
    ids = []
    for name, url in (("source", source_url), ("destination", destination_url)):
        host, port, database, user_name = _ENDPOINTS[url]
        config = {"host": host, "port": port, "database": database, "user": user_name}
        made = await create_source(
            principal, org, NewDataSource(name, DataSourceKind.POSTGRES, config)
        )
        ids.append(made.id)
    pipeline = await (await resolve(container.create_pipeline))(
        principal, org, NewPipeline("nightly", ids[0], ids[1], streams)
    )
    return principal, org, pipeline.id


_ENDPOINTS: dict[str, tuple[str, int, str, str]] = {}


@pytest.fixture
def endpoints(databases: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """The two databases reached over local TCP, as data sources reach them."""
    source_url, destination_url = databases
    with tcp_endpoint(source_url) as source, tcp_endpoint(destination_url) as destination:
        _ENDPOINTS[source_url], _ENDPOINTS[destination_url] = source, destination
        yield source_url, destination_url


async def wait_for(
    container: Container, principal: Any, org: UUID, run_id: UUID, done: Any, within: float = 60
) -> Run:
    """The run once ``done(run)`` holds (polled)."""
    get_run = await resolve(container.get_run)
    deadline = time.monotonic() + within
    while True:
        run = await get_run(principal, org, run_id)
        if done(run):
            return run
        assert time.monotonic() < deadline, f"the run is still {run.status.value}: {run}"
        await asyncio.sleep(0.05)


async def test_an_in_process_worker_executes_a_triggered_run_to_success(
    database_url: str, endpoints: tuple[str, str], tmp_path: Path
) -> None:
    source_url, destination_url = endpoints
    settings = make_settings(
        database_url=database_url, data_root=str(tmp_path), worker_batch_rows=64, **CHEAP_HASHING
    )
    async with started(build_container(settings)) as container:
        principal, org, pipeline_id = await a_pipeline(
            container, source_url, destination_url, STREAMS
        )
        before = scraped()
        run = await (await resolve(container.trigger_run))(principal, org, pipeline_id)
        worker = Worker(
            await resolve(container.run_queue),
            await resolve(container.execute_run),
            metrics=await resolve(container.run_metrics),
            poll=0.05,
        )
        stopping = asyncio.Event()
        working = asyncio.create_task(worker.run(stopping))
        try:
            ended = await wait_for(container, principal, org, run.id, lambda r: r.status.finished)
        finally:
            stopping.set()
            await working
    after = scraped()

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert ended.status is RunStatus.SUCCEEDED, ended.error
    assert added("thedata_runs_queued_total", trigger="manual") == 1
    assert added("thedata_run_attempts_started_total", trigger="manual") == 1
    assert added("thedata_run_attempts_ended_total", status="succeeded", trigger="manual") == 1
    assert added("thedata_runs_finished_total", status="succeeded", trigger="manual") == 1
    assert added("thedata_run_attempt_duration_seconds_count", trigger="manual") == 1
    kinds = {"source_kind": "postgres", "destination_kind": "postgres"}
    moved_rows = sum(rows(source_url, s.name) for s in STREAMS)
    assert added("thedata_run_rows_written_total", **kinds) == moved_rows
    # binary COPY: at least a 2-byte field count per row, and a header per stream
    assert added("thedata_run_written_bytes_total", **kinds) > 2 * moved_rows
    assert ended.attempt == 1
    assert ended.streams["orders"].rows_written == 500
    assert table(destination_url, "orders_upserted") == table(source_url, "orders")
    assert table(destination_url, "customers_copy") == table(source_url, "customers")


def rows(url: str, name: str) -> int:
    """How many rows the table ``name`` holds."""
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
        counted = connection.execute(query).fetchone()
    assert counted is not None
    return int(counted[0])


def _worker(variables: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*THEDATA, "worker"],
        cwd=cwd,
        env=clean_env(**variables),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
