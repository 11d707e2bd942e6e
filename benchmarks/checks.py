"""Data source checks: latency against a local PostgreSQL, and a dead host under load.

Run through the real use case (catalog in PostgreSQL, secret store, breaker,
single flight), as an HTTP request would.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import psycopg

from tests.conftest import TEST_SECRET_KEYS, make_settings, tcp_endpoint
from tests.faults import Blackhole
from thedata.application.use_cases import CheckDataSource, NewDataSource, NewOrganization
from thedata.domain.data_sources import DataSourceKind
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve


async def bench_checks(url: str, source_url: str, home: Path, rounds: int) -> None:
    """Print check latency (against connect + SELECT 1) and the dead-host attempt counts.

    ``source_url`` is another server's: the control database's server is never a source.
    """
    settings = make_settings(
        database_url=url, home=str(home), secret_keys=TEST_SECRET_KEYS, data_root=str(home / "data")
    )
    async with started(build_container(settings)) as container:
        await (await resolve(container.migrator)).migrate()
        user = await (await resolve(container.register_user))("b@x.io", "bench passphrase", "B")
        principal = await (await resolve(container.authenticate))(user.access_token)
        create_org = await resolve(container.create_organization)
        org = (await create_org(principal, NewOrganization("Bench"))).organization.id
        principal = await (await resolve(container.authenticate))(user.access_token)
        create = await resolve(container.create_data_source)
        check: CheckDataSource = await resolve(container.check_data_source)
        with tcp_endpoint(source_url) as (host, port, database, db_user):
            config = {"host": host, "port": port, "database": database, "user": db_user}
            live = await create(
                principal, org, NewDataSource("live", DataSourceKind.POSTGRES, config)
            )
            baseline, latencies = [], []
            conninfo = f"host={host} port={port} dbname={database} user={db_user}"
            for _ in range(rounds):
                started_at = time.perf_counter()
                async with await psycopg.AsyncConnection.connect(conninfo) as connection:
                    await connection.execute("SELECT 1")
                baseline.append(time.perf_counter() - started_at)
                outcome = await check(principal, org, live.id)
                if not outcome.ok:
                    raise SystemExit(f"the check of a live database failed: {outcome.error}")
                latencies.append(outcome.latency_ms / 1000)
        median_check = statistics.median(latencies) * 1000
        median_raw = statistics.median(baseline) * 1000
        print(f"check, local PostgreSQL (median of {rounds}): {median_check:7.2f} ms")
        print(f"baseline: connect + SELECT 1        : {median_raw:7.2f} ms")
        print(f"ratio check / baseline              : {median_check / median_raw:6.2f}")

        dead_host = Blackhole()
        dead_port = await dead_host.start()
        dead_config = config | {"port": dead_port, "password": "x" * 12}
        dead = await create(
            principal, org, NewDataSource("dead", DataSourceKind.POSTGRES, dead_config)
        )
        try:
            started_at = time.perf_counter()
            wave = await asyncio.gather(*(check(principal, org, dead.id) for _ in range(50)))
            elapsed = time.perf_counter() - started_at
            print(
                f"50 concurrent checks of a dead host: {dead_host.connections} connection "
                f"attempt(s), all ok=false: {all(not o.ok for o in wave)}, {elapsed:.1f} s"
            )
            attempts_before = dead_host.connections
            outcomes = [await check(principal, org, dead.id) for _ in range(10)]
            refused = sum("recent calls" in (o.error or "") for o in outcomes)
            print(
                f"then 10 checks one after another: {dead_host.connections - attempts_before} "
                f"more attempt(s), {refused} refused by the open circuit at once"
            )
        finally:
            await dead_host.stop()
