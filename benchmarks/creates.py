"""Concurrent data-source creates with a password, on pools of one and of several connections.

The secret is written on the creating transaction's own connection, so a
create needs one pooled connection whatever it stores. Measured through the
real use cases (catalog and secrets in PostgreSQL), against the same creates
without a password (no secret written) in the same run, rounds alternated.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import TEST_SECRET_KEYS, make_settings
from thedata.application.use_cases import NewDataSource, NewOrganization
from thedata.domain.data_sources import DataSourceKind
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

CONCURRENCY = 32
CONFIG = {"host": "db.example.com", "database": "sales", "user": "reader"}


async def _wave(create: Any, principal: Any, org: uuid.UUID, password: bool) -> tuple[int, float]:
    config = CONFIG | ({"password": "a-long-password"} if password else {})
    started_at = time.perf_counter()
    outcomes = await asyncio.gather(
        *(
            create(principal, org, NewDataSource(uuid.uuid4().hex, DataSourceKind.POSTGRES, config))
            for _ in range(CONCURRENCY)
        ),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started_at
    return sum(not isinstance(o, BaseException) for o in outcomes), elapsed


async def _bench_pool(url: str, home: Path, pool_size: int, rounds: int) -> None:
    settings = make_settings(
        database_url=url,
        home=str(home),
        secret_keys=TEST_SECRET_KEYS,
        data_root=str(home / "data"),
        db_pool_min_size=1,
        db_pool_max_size=pool_size,
    )
    async with started(build_container(settings)) as container:
        await (await resolve(container.migrator)).migrate()
        email = f"{uuid.uuid4().hex[:8]}@x.io"
        user = await (await resolve(container.register_user))(email, "bench passphrase", "B")
        principal = await (await resolve(container.authenticate))(user.access_token)
        org = (
            await (await resolve(container.create_organization))(principal, NewOrganization("B"))
        ).organization.id
        principal = await (await resolve(container.authenticate))(user.access_token)
        create = await resolve(container.create_data_source)
        timings: dict[bool, list[float]] = {True: [], False: []}
        succeeded: dict[bool, int] = {True: 0, False: 0}
        cpu_before = time.process_time()
        for n in range(rounds):
            for password in (n % 2 == 0, n % 2 != 0):  # alternate which goes first
                ok, elapsed = await _wave(create, principal, org, password)
                succeeded[password] += ok
                timings[password].append(elapsed)
        cpu = time.process_time() - cpu_before
    with_secret = statistics.median(timings[True]) * 1000
    without = statistics.median(timings[False]) * 1000
    total = rounds * CONCURRENCY
    print(
        f"pool of {pool_size}: {CONCURRENCY} concurrent creates with a password "
        f"{succeeded[True]}/{total} ok, median wave {with_secret:7.1f} ms; without "
        f"{succeeded[False]}/{total} ok, {without:7.1f} ms; ratio {with_secret / without:5.2f}"
        f" (CPU {cpu:.1f} s, peak RSS {psutil.Process().memory_info().rss / 2**20:.0f} MiB)"
    )


def bench_creates(url: str, home: Path, rounds: int) -> None:
    """Print the creates' success counts and wave times on pools of 1 and 4."""
    for pool_size in (1, 4):
        asyncio.run(_bench_pool(url, home, pool_size, rounds))
