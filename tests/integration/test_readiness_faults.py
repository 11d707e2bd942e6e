"""The service under control-database faults: readiness and requests fail fast while it
is gone, workers wait it out, and everything recovers by itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import register
from tests.e2e.conftest import CHEAP_HASHING
from tests.faults import PartitionableProxy
from tests.integration.test_run_pipeline_folders import organization
from tests.integration.test_worker import wait_for
from thedata.adapters.postgres import EmbeddedPostgres
from thedata.application.errors import DependencyUnavailable
from thedata.application.use_cases import NewDataSource, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.runs import RunStatus
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.http import create_app
from thedata.entrypoints.resolve import resolve
from thedata.entrypoints.worker import Worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The readiness answer must come within a second even when the database hangs.
READY_DEADLINE = 1.0


async def timed_get(client: Any, path: str) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    response = await client.get(path)
    return response.status_code, response.json(), time.perf_counter() - started


async def wait_until_ready(client: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await client.get("/health/ready")).status_code == 200:
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"/health/ready did not recover within {within} s")


async def test_ready_fails_fast_when_the_database_stops_and_recovers_when_it_returns(
    own_server: EmbeddedPostgres,
) -> None:
    """Database down: ready is 503 fail in under a second, live stays 200; back up: ready passes."""
    url = own_server.start()  # joining the running server returns its URL
    app = create_app(build_container(make_settings(database_url=url)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/ready")).status_code == 200

        await asyncio.to_thread(own_server.stop)
        for _ in range(3):  # the broken pooled connection first, then refused new ones
            status, body, elapsed = await timed_get(client, "/health/ready")
            assert status == 503
            assert body["status"] == "fail"
            assert elapsed < READY_DEADLINE
            assert (await client.get("/health/live")).status_code == 200

        await asyncio.to_thread(own_server.start)
        await wait_until_ready(client, within=20)


@pytest.fixture
def proxy(own_server: EmbeddedPostgres) -> Iterator[PartitionableProxy]:
    """A proxy to the test's server over its Unix socket."""
    url = own_server.start()
    socket_dir = url.split("host=")[1].split("&")[0]
    proxy = PartitionableProxy(
        lambda: asyncio.open_unix_connection(str(Path(socket_dir) / ".s.PGSQL.5432"))
    )
    proxy.start()
    yield proxy
    proxy.stop()


async def test_ready_answers_in_time_while_the_database_hangs(proxy: PartitionableProxy) -> None:
    """A silent database (network partition) cannot hold readiness past its deadline."""
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/faults"
    app = create_app(build_container(make_settings(database_url=url)))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/ready")).status_code == 200

        proxy.partition()
        for _ in range(2):
            status, body, elapsed = await timed_get(client, "/health/ready")
            assert status == 503
            assert body["status"] == "fail"
            assert elapsed < READY_DEADLINE
        assert (await client.get("/health/live")).status_code == 200

        proxy.heal()
        await wait_until_ready(client, within=20)


async def test_requests_under_a_network_partition_end_in_503_and_then_fail_fast(
    proxy: PartitionableProxy, log_lines: Any
) -> None:
    """The database goes silent (packets held, nothing refused): a request already waiting on
    it ends as a 503 problem once the database is past answering (its statement timeout and
    a connect timeout more), never hangs; from then on requests fail at once until it
    answers again, and then they succeed by themselves."""
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/faults"
    settings = make_settings(
        database_url=url, db_statement_timeout=1, db_connect_timeout=1, **CHEAP_HASHING
    )
    answer_deadline = 1 + 2  # statement timeout + libpq's connect timeout (at least 2 s)
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        headers, _ = await register(client, "partitioned@x.io")
        assert (await client.get("/v1/users/me", headers=headers)).status_code == 200

        proxy.partition()
        started = time.perf_counter()
        async with asyncio.timeout(answer_deadline + 30):  # a hang fails, not blocks, the test
            first = await client.get("/v1/users/me", headers=headers)
        waited = time.perf_counter() - started
        assert first.status_code == 503
        assert first.headers["content-type"] == "application/problem+json"
        assert int(first.headers["retry-after"]) >= 1
        # psycopg then tries for a few seconds to cancel the statement before it gives up
        assert waited < answer_deadline + 12, waited

        # still partitioned after the background retries have run a few times (one that
        # took a pooled connection's local step for an answer let requests wait again)
        ends = time.monotonic() + 3.5
        while time.monotonic() < ends:
            started = time.perf_counter()
            response = await client.get("/v1/users/me", headers=headers)
            assert response.status_code == 503
            assert time.perf_counter() - started < 1.0
            await asyncio.sleep(0.1)

        proxy.heal()
        deadline = time.monotonic() + 15
        while (await client.get("/v1/users/me", headers=headers)).status_code != 200:
            assert time.monotonic() < deadline, "requests did not recover within 15 s"
            await asyncio.sleep(0.2)
    events = [json.loads(line)["event"] for line in log_lines.getvalue().splitlines()]
    assert events.count("control database unreachable: requests fail at once until it answers") == 1


async def test_service_returns_soon_after_a_long_outage(tmp_path: Path) -> None:
    """Reconnection backs off during an outage, but not so far that recovery lags behind.

    Without a reconnect window the pool's waits double (1, 2, 4, 8 s ...): after an
    8 s outage its next attempt would come about 7 s after the database is back.
    """
    server = EmbeddedPostgres(tmp_path / "pg", database="outage")
    url = server.start()
    app = create_app(build_container(make_settings(database_url=url, db_reconnect_window=2)))
    try:
        async with AsyncTestClient(app) as client:
            await asyncio.to_thread(server.stop)
            outage_ends = time.monotonic() + 8
            while time.monotonic() < outage_ends:  # probed like a load balancer would
                assert (await client.get("/health/ready")).status_code == 503
                await asyncio.sleep(0.5)
            await asyncio.to_thread(server.start)
            await wait_until_ready(client, within=4)
    finally:
        server.stop()


async def test_requests_fail_fast_with_retry_after_while_the_database_is_down(
    own_server: EmbeddedPostgres, log_lines: Any
) -> None:
    """Database stopped under a stream of authenticated requests: after the first answer
    that finds it gone, every request is a 503 problem with Retry-After within a second
    (not the pool's acquire timeout); back up, requests succeed again by themselves."""
    url = own_server.start()
    settings = make_settings(database_url=url, db_acquire_timeout=5, **CHEAP_HASHING)
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        headers, _ = await register(client, "down@x.io")
        assert (await client.get("/v1/users/me", headers=headers)).status_code == 200

        await asyncio.to_thread(own_server.stop)
        answers = []
        outage_ends = time.monotonic() + 8
        while time.monotonic() < outage_ends:
            started = time.perf_counter()
            response = await client.get("/v1/users/me", headers=headers)
            answers.append((response.status_code, time.perf_counter() - started, response))
        statuses = {status for status, _, _ in answers}
        assert statuses == {503}, statuses
        slow = [round(elapsed, 2) for _, elapsed, _ in answers[1:] if elapsed >= 1.0]
        assert not slow, f"{len(slow)} of {len(answers)} answers took a second or more: {slow}"
        last = answers[-1][2]
        assert last.headers["content-type"] == "application/problem+json"
        assert int(last.headers["retry-after"]) >= 1

        await asyncio.to_thread(own_server.start)
        deadline = time.monotonic() + 10
        while (await client.get("/v1/users/me", headers=headers)).status_code != 200:
            assert time.monotonic() < deadline, "requests did not recover within 10 s"
            await asyncio.sleep(0.2)
    events = [json.loads(line)["event"] for line in log_lines.getvalue().splitlines()]
    # one line as the outage starts, one as it ends: not one per request
    unreachable = "control database unreachable: requests fail at once until it answers"
    assert events.count(unreachable) == 1
    assert events.count("control database reachable again") == 1


async def test_a_worker_stops_claiming_while_the_database_is_down_and_resumes_by_itself(
    own_server: EmbeddedPostgres, tmp_path: Path, log_lines: Any
) -> None:
    """A worker running through an outage of the control database: it neither dies nor
    floods the log, and a run queued once the database is back is executed."""
    url = own_server.start()
    data_root = tmp_path / "data"
    settings = make_settings(database_url=url, data_root=str(data_root), **CHEAP_HASHING)
    async with started(build_container(settings)) as container:
        principal, org = await organization(container)
        ids = []
        for name in ("in", "out"):
            (data_root / str(org) / name).mkdir(parents=True)
            config = {"path": name, "format": "csv"}
            made = await (await resolve(container.create_data_source))(
                principal, org, NewDataSource(name, DataSourceKind.FILE, config)
            )
            ids.append(made.id)
        (data_root / str(org) / "in" / "items.csv").write_text("id,name\n1,a\n2,b\n")
        streams = [Stream("items", "items", StreamMode.FULL_REFRESH)]
        pipeline = await (await resolve(container.create_pipeline))(
            principal, org, NewPipeline("copy", ids[0], ids[1], streams)
        )
        worker = Worker(
            await resolve(container.run_queue),
            await resolve(container.execute_run),
            poll=0.05,
            reap_every=0.2,
        )
        stopping = asyncio.Event()
        working = asyncio.create_task(worker.run(stopping))
        try:
            await asyncio.to_thread(own_server.stop)
            await asyncio.sleep(3)
            assert not working.done(), "the worker died with the database"
            await asyncio.to_thread(own_server.start)
            trigger = await resolve(container.trigger_run)
            deadline = time.monotonic() + 15
            while True:  # the API's own requests answer 503 until the pool is back
                try:
                    run = await trigger(principal, org, pipeline.id)
                    break
                except DependencyUnavailable:
                    assert time.monotonic() < deadline, "the database never came back"
                    await asyncio.sleep(0.2)
            ended = await wait_for(container, principal, org, run.id, lambda r: r.status.finished)
        finally:
            stopping.set()
            await working
    assert ended.status is RunStatus.SUCCEEDED, ended.error
    events = [json.loads(line)["event"] for line in log_lines.getvalue().splitlines()]
    # about 60 polls met the outage: one line says so, one says it is over
    assert events.count("claiming failed; trying again at every poll") == 1
    assert events.count("claiming works again") == 1
    written = (data_root / str(org) / "out").rglob("*.csv")
    assert any("1,a" in path.read_text() for path in written)
