"""The API speed benchmark's workload, seeded through the service's own use cases.

1,000 users; 200 organizations of 5 members each (the first its owner, the
others members); in each, two ``file`` data sources (folders under the data
root: nothing is reached when they are created) and 100 pipelines between them
with two streams and a cron schedule; 1 pipeline in 10 has 5 runs, each
claimed and finished by the run queue as a worker would (figures per stream,
an attempt in its history), but the 5th of every other such pipeline, which
stays queued (1,000 active runs: a trigger on their pipelines is a 409).

Seeding takes minutes, so the seeded database is kept on the server as a
template, named after a digest of the workload and of the migrations: a run
copies it (``CREATE DATABASE … TEMPLATE``, seconds) and drops its copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from benchmarks.engine_setup import databases
from tests.conftest import make_settings
from tests.e2e.conftest import CHEAP_HASHING
from thedata.adapters.postgres import load_migrations
from thedata.application.use_cases import (
    NewDataSource,
    NewMember,
    NewOrganization,
    NewPipeline,
)
from thedata.domain.access import Role
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.principal import Principal
from thedata.domain.runs import StreamStats
from thedata.domain.schedules import Cron
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve

T = TypeVar("T")

SEED_VERSION = 1  # raise it when the workload below changes
USERS, ORGS, MEMBERS, PIPELINES_PER_ORG = 1000, 200, 5, 100
RUN_EVERY, RUNS_PER_PIPELINE = 10, 5
PASSWORD = "benchmark passphrase"  # noqa: S105 - the seeded accounts' password
SCHEDULE = Cron("0 3 * * *")
STREAMS = (
    Stream("orders", "orders", StreamMode.FULL_REFRESH),
    Stream("customers", "customers", StreamMode.INCREMENTAL, "updated_at", ("id",)),
)
CONCURRENCY = 8  # use cases in flight at once while seeding
PREFIX = "thedata_bench_api_"


def email(user: int) -> str:
    return f"user{user:04d}@bench.example"


def settings_for(database_url: str, data_root: Path) -> Settings:
    """The benchmark's own container: cheap password hashing, sign-in limits out of the way."""
    return make_settings(
        database_url=database_url,
        data_root=str(data_root),
        login_attempt_limit=1000,
        login_account_limit=100000,
        login_address_limit=100000,
        **CHEAP_HASHING,
    )


def template_name() -> str:
    """The seeded template's name: what is seeded, and on which schema."""
    digest = hashlib.sha256(
        repr((SEED_VERSION, USERS, ORGS, MEMBERS, PIPELINES_PER_ORG, RUN_EVERY)).encode()
    )
    for migration in load_migrations():
        digest.update(migration.file_name.encode() + migration.checksum.encode())
    return f"{PREFIX}seed_{digest.hexdigest()[:12]}"


async def limited(
    jobs: Sequence[Callable[[], Awaitable[T]]], at_once: int = CONCURRENCY
) -> list[T]:
    """Every job's result, in order, with at most ``at_once`` running."""
    gate = asyncio.Semaphore(at_once)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


class _Phases:
    """Seconds per seeding phase, printed as they end."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        print(f"  seeded {what} in {now - self.last:.1f} s", flush=True)
        self.last = now


async def _organization(c: Container, k: int, owner: Principal, token: str) -> None:
    """Organization ``k``: its members, data sources and pipelines."""
    org = await (await resolve(c.create_organization))(owner, NewOrganization(f"Org {k:03d}"))
    org_id = org.organization.id
    owner = await (await resolve(c.authenticate))(token)  # now with the new organization's role
    add_member = await resolve(c.add_member)
    for m in range(1, MEMBERS):
        await add_member(owner, org_id, NewMember(email(k * MEMBERS + m), Role.MEMBER))
    create_source = await resolve(c.create_data_source)
    ids = [
        (await create_source(owner, org_id, NewDataSource(name, DataSourceKind.FILE, config))).id
        for name, config in (
            ("source", {"path": "source", "format": "csv"}),
            ("destination", {"path": "destination", "format": "jsonl"}),
        )
    ]
    create_pipeline = await resolve(c.create_pipeline)
    for j in range(PIPELINES_PER_ORG):
        command = NewPipeline(f"pipeline-{j:03d}", ids[0], ids[1], STREAMS, SCHEDULE)
        await create_pipeline(owner, org_id, command)


async def _runs(c: Container, owners: Sequence[Principal]) -> None:
    """Runs on 1 pipeline in 10: triggered, then claimed and finished, round after round."""
    with_runs: list[tuple[Principal, Any, Any]] = []
    list_pipelines = await resolve(c.list_pipelines)
    for owner in owners:
        (org_id,) = owner.roles
        page = await list_pipelines(owner, org_id, PageRequest(limit=PIPELINES_PER_ORG))
        with_runs += [(owner, org_id, p.id) for p in page.items[::RUN_EVERY]]
    trigger, queue = await resolve(c.trigger_run), await resolve(c.run_queue)

    async def finish() -> None:
        run = await queue.claim("bench-seed")
        if run is not None:
            rows = 1000 + run.attempt
            for stream in STREAMS:
                run = run.progressed(stream.name, StreamStats(rows, rows, rows))
            await queue.succeed(run)

    for number in range(RUNS_PER_PIPELINE):
        await limited([partial(trigger, *w) for w in with_runs])
        finishing = len(with_runs) if number < RUNS_PER_PIPELINE - 1 else len(with_runs) // 2
        await limited([finish] * finishing)


async def _seed(settings: Settings) -> None:
    phases = _Phases()
    async with started(build_container(settings)) as c:
        await (await resolve(c.migrator)).migrate()
        register = await resolve(c.register_user)
        registered = await limited(
            [partial(register, email(i), PASSWORD, f"User {i}") for i in range(USERS)]
        )
        tokens = [r.access_token for r in registered]
        phases.done(f"{USERS:,} users")
        authenticate = await resolve(c.authenticate)
        owner_tokens = [tokens[k * MEMBERS] for k in range(ORGS)]
        first = [await authenticate(token) for token in owner_tokens]
        await limited(
            [partial(_organization, c, k, first[k], owner_tokens[k]) for k in range(ORGS)]
        )
        phases.done(
            f"{ORGS} organizations, {ORGS * MEMBERS:,} memberships,"
            f" {ORGS * PIPELINES_PER_ORG:,} pipelines"
        )
        owners = [await authenticate(token) for token in owner_tokens]
        await _runs(c, owners)
        phases.done(f"{ORGS * PIPELINES_PER_ORG // RUN_EVERY * RUNS_PER_PIPELINE:,} runs")


def ensure_template(server_url: str, data_root: Path) -> tuple[str, float | None]:
    """The seeded template's name, and the seconds seeding took (``None``: it was there)."""
    name = template_name()
    with psycopg.connect(server_url, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is not None:
            return name, None
    building = name + "_building"
    (url,) = databases(server_url, [building])
    print(f"seeding {name} (once: later runs copy it)", flush=True)
    started_at = time.perf_counter()
    asyncio.run(_seed(settings_for(url, data_root)))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started_at
    with psycopg.connect(server_url, autocommit=True) as connection:
        stale = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
            (PREFIX + "seed_%", building),
        ).fetchall()
        for (old,) in stale:  # the templates of older workloads or schemas
            connection.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(old)))
        connection.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)
            )
        )
    return name, seconds


def copy_of(server_url: str, template: str, name: str) -> tuple[str, float]:
    """A fresh copy of the template (replacing one of that name); its URL and seconds."""
    started_at = time.perf_counter()
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return make_conninfo(server_url, dbname=name), time.perf_counter() - started_at


def drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
