"""A ``thedata worker`` killed with SIGKILL in the middle of a run: another worker takes the
run once the lease expires and finishes it, and the destination equals the source — for a
full refresh and an incremental stream, into PostgreSQL and into a folder.

The run is held in its middle by the source itself: the proxy in front of it relays the
first bytes of each answer and then holds the rest (``PartitionableProxy.choke``), so the
worker is killed with batches written and more to come, however fast the machine. Once
per case in CI; ``THEDATA_HEAVY=1`` repeats each case 20 times and prints the median and
worst recovery time. The oracle is the source table, read with plain SQL.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tests.conftest import make_settings, proxied_endpoint, tcp_endpoint
from tests.contract.test_folder_streams import load_table
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_run_pipeline_folders import organization
from tests.integration.test_run_pipeline_postgres import databases
from tests.integration.test_worker import wait_for
from tests.integration.test_worker_faults import (
    HEAVY,
    LEASE,
    WorkerProcess,
    mid_run,
    worker_variables,
    workers,
)
from thedata.application.use_cases import NewDataSource, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.runs import RunStatus
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["databases", "workers"]  # fixtures

ROWS = 200_000
BATCH_ROWS = 10_000
# of each answer from the source: about three batches (≈ 1.3 MiB each), far from all
CHOKED_AFTER = 4 * 1024 * 1024
REPETITIONS = 20 if HEAVY else 1
CASES = [
    pytest.param(destination, mode, id=f"{destination}-{mode.value}")
    for destination in ("postgres", "folder")
    for mode in (StreamMode.FULL_REFRESH, StreamMode.INCREMENTAL)
]


def big_source(url: str) -> list[tuple[Any, ...]]:
    """The source table ``big`` (a key, a cursor with ties, a body), and its rows."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, updated bigint NOT NULL, body text)"
        )
        connection.execute(
            "INSERT INTO big SELECT n, n / 10, repeat('b', 100) FROM generate_series(1, %s) n",
            (ROWS,),
        )
        return connection.execute("SELECT * FROM big ORDER BY id").fetchall()


async def data_source(
    container: Container, principal: Any, org: UUID, name: str, kind: DataSourceKind, config: Any
) -> UUID:
    create = await resolve(container.create_data_source)
    return (await create(principal, org, NewDataSource(name, kind, config))).id


def postgres_config(endpoint: tuple[str, int, str, str]) -> dict[str, Any]:
    host, port, database, user = endpoint
    return {"host": host, "port": port, "database": database, "user": user}


@pytest.mark.parametrize(("destination_kind", "mode"), CASES)
async def test_a_worker_killed_mid_run_is_replaced_and_the_run_ends_exact(
    database_url: str,
    databases: tuple[str, str],
    tmp_path: Path,
    workers: list[WorkerProcess],
    capsys: pytest.CaptureFixture[str],
    destination_kind: str,
    mode: StreamMode,
) -> None:
    source_url, destination_url = databases
    expected = big_source(source_url)
    variables = worker_variables(database_url, tmp_path, THEDATA_WORKER_BATCH_ROWS=str(BATCH_ROWS))
    data_root = Path(variables["THEDATA_DATA_ROOT"])
    settings = make_settings(database_url=database_url, data_root=str(data_root), **CHEAP_HASHING)
    recoveries: list[float] = []
    with (
        proxied_endpoint(source_url) as (source_endpoint, source_proxy),
        tcp_endpoint(destination_url) as destination_endpoint,
    ):
        async with started(build_container(settings)) as container:
            principal, org = await organization(container)
            source = await data_source(
                container, principal, org, "source", DataSourceKind.POSTGRES,
                postgres_config(source_endpoint),
            )  # fmt: skip
            if destination_kind == "postgres":
                config = postgres_config(destination_endpoint)
                kind = DataSourceKind.POSTGRES
            else:
                (data_root / str(org) / "lake").mkdir(parents=True)
                config, kind = {"path": "lake", "format": "csv"}, DataSourceKind.FILE
            destination = await data_source(container, principal, org, "to", kind, config)
            for repetition in range(REPETITIONS):
                table = f"big_{repetition}"
                key = ("id",) if mode is StreamMode.INCREMENTAL else ()
                cursor = "updated" if mode is StreamMode.INCREMENTAL else None
                pipeline = await (await resolve(container.create_pipeline))(
                    principal,
                    org,
                    NewPipeline(
                        table, source, destination, [Stream("big", table, mode, cursor, key)]
                    ),
                )
                run = await (await resolve(container.trigger_run))(principal, org, pipeline.id)
                source_proxy.choke(CHOKED_AFTER)
                killed = WorkerProcess(variables, tmp_path, f"killed-{repetition}")
                workers.append(killed)
                await mid_run(container, principal, org, run)
                os.kill(killed.pid, signal.SIGKILL)
                killed.process.wait(timeout=30)
                killed_at = time.monotonic()
                source_proxy.heal()
                taker = WorkerProcess(variables, tmp_path, f"taker-{repetition}")
                workers.append(taker)
                ended = await wait_for(
                    container, principal, org, run.id, lambda r: r.status.finished, 120
                )
                recoveries.append(time.monotonic() - killed_at)
                await taker.wait_for_event("run lease expired: re-queued", 10)
                assert taker.stop() == 0

                assert ended.status is RunStatus.SUCCEEDED, ended.error
                assert ended.attempt == 2
                assert "run attempt ended" in taker.events()  # the taker finished it
                if destination_kind == "postgres":
                    copied = _rows(destination_url, table)
                else:
                    copied = await load_table(source_url, data_root / str(org) / "lake", table)
                assert copied == expected, f"repetition {repetition}"
    with capsys.disabled():
        print(  # noqa: T201
            f"\nkill -9 mid-run, {destination_kind} {mode.value}: recovered in median "
            f"{statistics.median(recoveries):.1f} s, worst {max(recoveries):.1f} s of "
            f"{len(recoveries)} (lease {LEASE} s, reaper every 5 s, retry backoff 5 s)"
        )


def _rows(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))
        return connection.execute(query).fetchall()
