"""Real ``thedata worker`` processes under faults: a zombie (SIGSTOP past its lease, then
SIGCONT), many workers on one queue, a graceful shutdown (SIGTERM mid-run), and a run longer
than several leases beside other workers' reapers.

The oracles are independent of the worker's code: the source tables themselves, the run
rows and the pipelines' epochs read with plain SQL, and the destination's tables (its data
and its stream state) read whole before and after the zombie wakes up.

``THEDATA_HEAVY=1`` runs the queue test with 1,000 runs (the issue's figure) instead of the
default 200, which keeps the file's default run short enough for CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from tests.conftest import make_settings
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_cli import THEDATA, clean_env
from tests.integration.test_worker import a_pipeline, databases, endpoints, wait_for
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.runs import Run, RunStatus
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["databases", "endpoints"]  # fixtures: two databases, reached over local TCP

LEASE = 5
HEAVY = os.environ.get("THEDATA_HEAVY") == "1"
QUEUED_RUNS = 1_000 if HEAVY else 200


class WorkerProcess:
    """A ``thedata worker`` process, its JSON log in a file (never a pipe that could fill)."""

    def __init__(self, variables: dict[str, str], folder: Path, name: str) -> None:
        self.log = folder / f"{name}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*THEDATA, "worker"],
                cwd=folder,
                env=clean_env(**variables, THEDATA_LOG_FORMAT="json", THEDATA_LOG_LEVEL="info"),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> list[str]:
        """The log's messages so far."""
        found = []
        for line in self.log.read_text().splitlines():
            try:
                found.append(str(json.loads(line).get("event")))
            except ValueError:
                found.append(line)  # a traceback or anything else printed as is
        return found

    async def wait_for_event(self, event: str, within: float) -> float:
        """Seconds until ``event`` is in the log (fails after ``within``)."""
        start = time.monotonic()
        while event not in self.events():
            assert self.process.poll() is None, f"the worker exited: {self.log.read_text()}"
            assert time.monotonic() - start < within, f"no {event!r} in {self.log.read_text()}"
            await asyncio.sleep(0.05)
        return time.monotonic() - start

    def stop(self, within: float = 60) -> int:
        """SIGTERM, then the exit code (SIGKILL if it does not end in time)."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; whatever is left is killed at the end."""
    started_here: list[WorkerProcess] = []
    yield started_here
    for worker in started_here:
        # shown by pytest when the test failed: what each worker did
        print(f"--- {worker.log.name}\n{worker.log.read_text()[-4000:]}")  # noqa: T201
        if worker.process.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.process.kill()
            worker.process.wait()


def worker_variables(database_url: str, folder: Path, **more: str) -> dict[str, str]:
    data_root = folder / "data"  # beside the logs, not holding them
    data_root.mkdir(exist_ok=True)
    return {
        "THEDATA_DATABASE_URL": database_url,
        "THEDATA_DATA_ROOT": str(data_root),
        "THEDATA_WORKER_LEASE_SECONDS": str(LEASE),
        "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",
        "THEDATA_MIGRATE_ON_START": "false",
        **more,
    }


def control_settings(database_url: str, folder: Path) -> Any:
    return make_settings(database_url=database_url, data_root=str(folder), **CHEAP_HASHING)


def source_table(url: str, name: str, rows: int) -> None:
    """``name (seq, body)`` with ``rows`` rows, ``seq`` unique: an append stream's cursor."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE TABLE {} (seq bigint NOT NULL, body text)").format(sql.Identifier(name))
        )
        connection.execute(
            sql.SQL(
                "INSERT INTO {} SELECT n, repeat('b', 100) FROM generate_series(1, %s) n"
            ).format(sql.Identifier(name)),
            (rows,),
        )


def slow_destination(url: str, table: str, per_batch: float) -> None:
    """The append stream's destination table made beforehand, each batch written into it
    taking ``per_batch`` seconds longer: a run whose length the clock sets, not the speed of
    the machine (and whose worker, stopped, is most likely inside a write)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_sleep({per_batch}); RETURN NULL; END $$"
        )
        connection.execute(
            sql.SQL("CREATE TABLE {} (seq bigint NOT NULL, body text)").format(
                sql.Identifier(table)
            )
        )
        connection.execute(
            sql.SQL(
                "CREATE TRIGGER slow AFTER INSERT ON {} FOR EACH STATEMENT"
                " EXECUTE FUNCTION slow_batch()"
            ).format(sql.Identifier(table))
        )


async def mid_run(container: Container, principal: Any, org: UUID, run: Run) -> Run:
    """The run once a worker stored its first progress (it must still be running then)."""
    seen = await wait_for(
        container, principal, org, run.id, lambda r: r.rows_written > 0 or r.status.finished, 60
    )
    assert seen.status is RunStatus.RUNNING, f"the run ended before any fault: {seen}"
    return seen


def rows_of(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT * FROM {} ORDER BY seq").format(sql.Identifier(table))
        return connection.execute(query).fetchall()


def whole_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the database's public schema, every row (the destination's data and
    the stream state it keeps beside it), in a stable order."""
    with psycopg.connect(url) as connection:
        names = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        return {
            name: connection.execute(
                sql.SQL("SELECT t::text FROM {} t ORDER BY 1").format(sql.Identifier(name))
            ).fetchall()
            for (name,) in names
        }


def append_stream(table: str, destination: str) -> list[Stream]:
    return [Stream(table, destination, StreamMode.INCREMENTAL, "seq")]


async def pipeline_state(container: Container, principal: Any, org: UUID, pipeline: UUID) -> Any:
    found = await (await resolve(container.get_pipeline))(principal, org, pipeline)
    return dict(found.state)


ZOMBIE_ROWS = 200_000


async def test_a_zombie_worker_resumed_after_a_takeover_changes_nothing(
    database_url: str,
    endpoints: tuple[str, str],
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    """A worker stopped (SIGSTOP) past its lease loses the run to another, which finishes it;
    resumed (SIGCONT), it changes nothing: not the run, not the pipeline's state, not one row
    of the destination, which equals the source with no row twice."""
    source_url, destination_url = endpoints
    source_table(source_url, "big", ZOMBIE_ROWS)
    slow_destination(destination_url, "big_log", per_batch=0.1)
    variables = worker_variables(database_url, tmp_path, THEDATA_WORKER_BATCH_ROWS="2000")
    async with started(build_container(control_settings(database_url, tmp_path))) as container:
        principal, org, pipeline_id = await a_pipeline(
            container, source_url, destination_url, append_stream("big", "big_log")
        )
        run = await (await resolve(container.trigger_run))(principal, org, pipeline_id)
        zombie = WorkerProcess(variables, tmp_path, "zombie")
        workers.append(zombie)
        held = await mid_run(container, principal, org, run)
        os.kill(zombie.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        second = WorkerProcess(variables, tmp_path, "second")
        workers.append(second)
        taken = await wait_for(container, principal, org, run.id, lambda r: r.attempt == 2, 120)
        taken_in = time.monotonic() - stopped_at
        ended = await wait_for(container, principal, org, run.id, lambda r: r.status.finished, 120)
        finished_in = time.monotonic() - stopped_at
        state = await pipeline_state(container, principal, org, pipeline_id)
        destination = whole_database(destination_url)

        os.kill(zombie.pid, signal.SIGCONT)
        # the zombie's heartbeat or its next write tells it the run is gone
        await zombie.wait_for_event("the attempt lost its run to another; it stored nothing", 60)
        assert zombie.stop() == 0
        assert await (await resolve(container.get_run))(principal, org, run.id) == ended
        assert await pipeline_state(container, principal, org, pipeline_id) == state
    assert "run attempt ended" not in zombie.events()
    assert whole_database(destination_url) == destination
    assert taken.worker_id is not None
    assert taken.worker_id != held.worker_id
    assert ended.status is RunStatus.SUCCEEDED, ended.error
    assert ended.attempt == 2
    copied = rows_of(destination_url, "big_log")
    assert len({seq for seq, _ in copied}) == len(copied)  # no row twice
    assert copied == rows_of(source_url, "big")
    print(  # noqa: T201
        f"zombie: taken over {taken_in:.1f} s after SIGSTOP, run finished {finished_in:.1f} s "
        f"after it (lease {LEASE} s, reaper every 5 s, backoff 5 s)"
    )


async def test_workers_execute_each_queued_run_exactly_once(
    database_url: str,
    endpoints: tuple[str, str],
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    """8 worker processes drain a queue of runs of distinct pipelines: each run is claimed
    and executed once (one epoch per pipeline, one state row per stream in the destination,
    every run succeeded at its first attempt)."""
    source_url, destination_url = endpoints
    source_table(source_url, "one", 1)
    count = QUEUED_RUNS
    async with started(build_container(control_settings(database_url, tmp_path))) as container:
        principal, org, template = await a_pipeline(
            container, source_url, destination_url, append_stream("one", "hits_0")
        )
        with psycopg.connect(database_url, autocommit=True) as connection:
            # copies of the template, each appending into a table of its own
            connection.execute(
                "INSERT INTO pipelines (id, organization_id, name, source_id, destination_id,"
                " streams, schedule, enabled, state, created_at, updated_at)"
                " SELECT gen_random_uuid(), organization_id, 'p' || n, source_id,"
                " destination_id, jsonb_set(streams, '{0,destination}', to_jsonb('hits_' || n)),"
                " schedule, enabled, state, created_at, updated_at"
                " FROM pipelines, generate_series(1, %s) n WHERE id = %s",
                (count - 1, template),
            )
            ids = [row[0] for row in connection.execute("SELECT id FROM pipelines").fetchall()]
        trigger = await resolve(container.trigger_run)
        for pipeline_id in ids:
            await trigger(principal, org, pipeline_id)
    assert len(ids) == count
    variables = worker_variables(database_url, tmp_path)
    for n in range(8):
        workers.append(WorkerProcess(variables, tmp_path, f"worker{n}"))
    started_at = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            (finished,) = connection.execute(  # type: ignore[misc]
                "SELECT count(*) FROM runs WHERE status NOT IN ('queued', 'running')"
            ).fetchone()
            if finished == count:
                break
            assert time.monotonic() - started_at < 300, f"{finished} of {count} finished"
            await asyncio.sleep(0.2)
        outcomes = connection.execute(
            "SELECT status, attempt, count(*) FROM runs GROUP BY 1, 2"
        ).fetchall()
        epochs: dict[str, int] = dict(
            connection.execute("SELECT id::text, epoch FROM pipelines").fetchall()
        )
        first, last = connection.execute(  # type: ignore[misc]
            "SELECT min(started_at), max(finished_at) FROM runs"
        ).fetchone()
    codes = [worker.stop() for worker in workers]
    claims = [worker.events().count("run claimed") for worker in workers]
    assert outcomes == [("succeeded", 1, count)]
    with psycopg.connect(destination_url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hits_%%'"
        ).fetchone()
        states = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT LIKE 'hits_%%'"
        ).fetchall()
        assert len(states) == 1, states  # the destination's stream state, beside the data
        state_rows = connection.execute(
            sql.SQL("SELECT pipeline, epoch FROM {}").format(sql.Identifier(states[0][0]))
        ).fetchall()
        copied = connection.execute(
            sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(f"hits_{n}"))
                for n in range(count)
            )
        ).fetchall()
    assert tables == (count,)
    # every stream opened by one epoch: its pipeline's one claim's (one attempt each, above)
    assert len(state_rows) == count
    assert dict(state_rows) == epochs
    assert [c for (c,) in copied] == [1] * count
    assert codes == [0] * 8
    assert sum(claims) == count
    seconds = (last - first).total_seconds()
    print(  # noqa: T201
        f"queue: {count} runs by 8 workers (claims each: {claims}) in {seconds:.1f} s from the "
        f"first claim to the last success: {count / seconds:.1f} runs/s"
    )


SLOW_ROWS, SLOW_BATCH = 2_000, 100


async def test_a_worker_stopped_with_sigterm_hands_its_run_back_without_spending_an_attempt(
    database_url: str,
    endpoints: tuple[str, str],
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    """SIGTERM mid-run: within the grace period the run is queued again with its attempt
    given back, the worker exits cleanly, and another worker finishes it at attempt 1."""
    source_url, destination_url = endpoints
    rows = 1_000
    source_table(source_url, "slow", rows)
    slow_destination(destination_url, "slow_log", per_batch=0.5)
    grace = 10
    variables = worker_variables(
        database_url,
        tmp_path,
        THEDATA_WORKER_BATCH_ROWS=str(SLOW_BATCH),
        THEDATA_SHUTDOWN_TIMEOUT=str(grace),
    )
    async with started(build_container(control_settings(database_url, tmp_path))) as container:
        principal, org, pipeline_id = await a_pipeline(
            container, source_url, destination_url, append_stream("slow", "slow_log")
        )
        run = await (await resolve(container.trigger_run))(principal, org, pipeline_id)
        first = WorkerProcess(variables, tmp_path, "first")
        workers.append(first)
        await mid_run(container, principal, org, run)
        first.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        handed = await wait_for(
            container, principal, org, run.id, lambda r: r.status is not RunStatus.RUNNING, grace
        )
        handed_in = time.monotonic() - signalled_at
        assert first.process.wait(timeout=grace) == 0
        exited_in = time.monotonic() - signalled_at
        assert "handing back held runs" in first.events()
        second = WorkerProcess(variables, tmp_path, "second")
        workers.append(second)
        ended = await wait_for(container, principal, org, run.id, lambda r: r.status.finished, 120)
        assert second.stop() == 0
    assert handed.status is RunStatus.QUEUED
    assert handed.attempt == 0
    assert handed.error is None
    assert 0 < handed.rows_written < rows  # it was mid-run
    assert ended.status is RunStatus.SUCCEEDED, ended.error
    assert ended.attempt == 1
    assert rows_of(destination_url, "slow_log") == rows_of(source_url, "slow")
    print(  # noqa: T201
        f"shutdown: handed back {handed_in:.1f} s after SIGTERM, exited after {exited_in:.1f} s "
        f"(grace {grace} s)"
    )


async def test_a_run_longer_than_three_leases_is_not_reaped(
    database_url: str,
    endpoints: tuple[str, str],
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    """A run of about 20 s with a 5 s lease keeps it by its heartbeat while two idle workers
    run the reaper beside it: it ends succeeded at its first attempt, exactly."""
    source_url, destination_url = endpoints
    source_table(source_url, "slow", SLOW_ROWS)
    slow_destination(destination_url, "slow_log", per_batch=1.0)
    variables = worker_variables(database_url, tmp_path, THEDATA_WORKER_BATCH_ROWS=str(SLOW_BATCH))
    async with started(build_container(control_settings(database_url, tmp_path))) as container:
        principal, org, pipeline_id = await a_pipeline(
            container, source_url, destination_url, append_stream("slow", "slow_log")
        )
        for n in range(3):
            workers.append(WorkerProcess(variables, tmp_path, f"worker{n}"))
        for worker in workers:  # every reaper is running before the run is queued
            await worker.wait_for_event("worker started", 60)
        run = await (await resolve(container.trigger_run))(principal, org, pipeline_id)
        ended = await wait_for(container, principal, org, run.id, lambda r: r.status.finished, 120)
    codes = [worker.stop() for worker in workers]
    assert ended.status is RunStatus.SUCCEEDED, ended.error
    assert ended.attempt == 1
    assert ended.started_at is not None
    assert ended.finished_at is not None
    lasted = (ended.finished_at - ended.started_at).total_seconds()
    assert lasted > 3 * LEASE  # the premise: the lease had to be renewed
    assert rows_of(destination_url, "slow_log") == rows_of(source_url, "slow")
    assert not [e for w in workers for e in w.events() if "lease expired" in e]
    assert codes == [0, 0, 0]
    print(f"heartbeat: a {lasted:.1f} s run kept its {LEASE} s lease")  # noqa: T201
