"""Query plans (issue 14): no statement of the PostgreSQL adapters scans a large table.

The database is seeded as a busy deployment looks (``tests.query_plans.SeedSizes``: 20,000
organizations, 200,000 pipelines, 420,000 runs, the rest in proportion) and analyzed. Every
public method of the adapters' repositories, secret store, health check and run arrivals is
then called for real, on rows the seed holds, through the unit of work as the application
calls them; each statement is captured with its parameters as it runs, then explained with
those same parameters (a custom plan, as the planner makes for a statement's first runs).

The test fails when a plan sequentially scans a table of more than ``LARGE_TABLE_ROWS`` rows
(unless listed below, with the reason), when a public method was never called or ran no
statement, when a statement is of a kind neither explained nor knowingly skipped, and when a
foreign key has no index to serve its referenced row's delete (that trigger's scan is in
no EXPLAIN of the deleting statement).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from attrs import evolve, frozen
from psycopg_pool import AsyncConnectionPool

from tests.conftest import pool_on
from tests.contract.test_catalog_repositories import a_data_source, a_pipeline
from tests.contract.test_identity_repositories import a_key, a_user, an_organization, ids
from tests.identity import ManualClock
from tests.query_plans import (
    EXPLAINABLE_KINDS,
    LARGE_TABLE_ROWS,
    Capture,
    SeedSizes,
    SeqScan,
    Statement,
    explain,
    foreign_keys,
    public_methods,
    seed,
    seq_scans,
    statement_kind,
    table_sizes,
)
from tests.secrets import cipher
from thedata.adapters.postgres import (
    PostgresHealthCheck,
    PostgresRunArrivals,
    PostgresUnitOfWork,
    load_migrations,
)
from thedata.adapters.postgres import repositories as postgres_repositories
from thedata.adapters.secrets import PostgresSecretStore
from thedata.adapters.secrets.postgres_store import PostgresSecretWriter
from thedata.application.ports import StoredResponse
from thedata.domain.access import Role
from thedata.domain.data_sources import DataSourceHealth
from thedata.domain.organizations import Membership
from thedata.domain.pagination import DEFAULT_PAGE_SIZE, PageRequest
from thedata.domain.runs import Run, RunAlreadyActive, RunStatus, RunTrigger
from thedata.domain.tokens import AccessToken

SIZES = SeedSizes()

EXPECTED_STATEMENTS = 100
"""Distinct statements explained. A new statement (or one gone) changes it: update it here
after reading the test's output, so a change of the adapters' SQL is always a visible one."""

STATEMENTS_WITHOUT_A_PLAN = {
    "LISTEN": "subscribes the connection to notifications; nothing is planned",
}
"""Statement kinds that cannot be explained, skipped knowingly (any other unexplainable kind
fails the test: add it here with the reason, or teach the test to explain it)."""

METHODS_WITHOUT_STATEMENTS = {
    "PostgresSecretStore.joined": "hands out the writer; the writer's methods run the SQL",
    "PostgresSecretWriter.committed": "the transaction carried every change",
    "PostgresSecretWriter.discarded": "the rollback undid every change",
    "PostgresSecretWriter.in_doubt": "the secrets' fate is the transaction's",
}
"""Public methods that must be called but run no statement (checked: if one starts to, the
test says so and its statements are explained like the others')."""

WHOLE_TABLE_READS = {
    ("PostgresDataSourceRepository.secret_references", "data_sources"): (
        "the orphan-secret sweep compares every reference with the store's inventory"
    ),
    ("PostgresSecretStore.inventory", "secrets"): (
        "the orphan-secret sweep lists every stored secret"
    ),
}
"""(method, table): statements that read every row on purpose, where a sequential scan is
the best plan there is."""

EARLY_STOPPING_SCANS = {
    ("PostgresSecretStore.unreadable_key_versions", "secrets"): (
        "the canaries of the key version nearly every secret has: any three rows do, the"
        " scan stops at the third (a rare version's are found through secrets_by_key_version)"
    ),
}
"""(method, table): sequential scans a LIMIT stops within a few rows, because nearly every
row qualifies; accepted only while the plan says so (``SeqScan.stops_early``), so the same
method scanning the whole table still fails."""

KNOWN_FINDINGS: dict[tuple[str, str], str] = {}
"""(method, table): sequential scans found on the current code, to be fixed (issue 14's
report gives each one's plan and the index or query change recommended). Strict, like an
xfail: once one is fixed, the test fails until it is taken off this list."""

KNOWN_UNINDEXED_FOREIGN_KEYS: dict[str, str] = {}
"""Foreign keys (by constraint name) of large tables with no index that starts with their
columns, to be fixed; strict like ``KNOWN_FINDINGS``."""


def adapter_classes() -> list[type]:
    """Every class that runs statements on the control database: each ``Postgres*`` class
    defined in the repositories package (found, not listed, so a new one is covered at
    once), the secret store and its transaction writer, the health check and the run
    arrivals."""
    found: list[type] = []
    for module_info in pkgutil.iter_modules(postgres_repositories.__path__):
        module = importlib.import_module(f"{postgres_repositories.__name__}.{module_info.name}")
        found += [
            cls
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if name.startswith("Postgres") and cls.__module__ == module.__name__
        ]
    return [
        *sorted(found, key=lambda cls: cls.__name__),
        PostgresSecretStore,
        PostgresSecretWriter,
        PostgresHealthCheck,
        PostgresRunArrivals,
    ]


# --- what the seed holds -------------------------------------------------------------------


@frozen
class Seeded:
    """Rows of the seed the scenarios act on, found by their natural keys."""

    big_org: UUID  # organization 1: a team of thousands, a pipeline with 20,000 runs
    busy_pipeline: UUID
    org: UUID  # organization 777: a typical one, its pipelines' latest runs finished
    owner: UUID
    pipeline: UUID
    source: UUID
    destination: UUID
    queued: tuple[UUID, UUID]  # (organization, pipeline) whose latest run is queued
    newcomer: UUID  # a user who belongs to no organization
    consultant: UUID  # a user in a thousand organizations

    @classmethod
    def load(cls, database_url: str) -> Seeded:
        with psycopg.connect(database_url) as connection:

            def row(query: str, *params: object) -> tuple[Any, ...]:
                found = connection.execute(query, params).fetchone()
                assert found is not None, f"the seed has no row for {query} {params}"
                return found

            def org(slug: str) -> UUID:
                found: UUID = row("SELECT id FROM organizations WHERE slug = %s", slug)[0]
                return found

            def pipeline(org: UUID, name: str) -> tuple[Any, ...]:
                return row(
                    "SELECT id, source_id, destination_id FROM pipelines"
                    " WHERE organization_id = %s AND name = %s",
                    org,
                    name,
                )

            def user(email: str) -> UUID:
                found: UUID = row("SELECT id FROM users WHERE email = %s", email)[0]
                return found

            big_org, typical, queued_org = org("org-1"), org("org-777"), org("org-50")
            pipeline_id, source, destination = pipeline(typical, "pipeline 777")
            owner = "SELECT user_id FROM memberships WHERE organization_id = %s AND role = 'owner'"
            return cls(
                big_org=big_org,
                busy_pipeline=pipeline(big_org, "pipeline 1")[0],
                org=typical,
                owner=row(owner, typical)[0],
                pipeline=pipeline_id,
                source=source,
                destination=destination,
                queued=(queued_org, pipeline(queued_org, "pipeline 50")[0]),
                newcomer=user("user45000@example.com"),
                consultant=user("user50000@example.com"),
            )


# --- driving every method ------------------------------------------------------------------

# Units of work are left without a commit, so each rolls back and the tables stay as the
# seed made them (and as ANALYZE measured them); only the secret store's own connections
# commit the few rows they write.
UnitOfWorkFactory = Callable[[], PostgresUnitOfWork]


def later(page_after: UUID | None, limit: int = DEFAULT_PAGE_SIZE) -> PageRequest:
    """The next page of a list (its keyset condition is a statement of its own): the seed
    gives every list driven here more than one page."""
    assert page_after is not None, "the seed should give this list more than one page"
    return PageRequest(limit=limit, after=page_after)


async def drive_identity(uow: UnitOfWorkFactory, seeded: Seeded, now: datetime) -> None:
    """Users, organizations, memberships."""
    async with uow() as unit:
        user = a_user("plan-check@example.com")
        await unit.users.add(user)
        assert await unit.users.get(seeded.owner) is not None
        await unit.users.get_by_email("user777@example.com")
        await unit.users.update(evolve(user, name="Renamed"))

        organization = an_organization("plan-check")
        await unit.organizations.add(organization)
        assert await unit.organizations.get(seeded.org) is not None
        await unit.organizations.get(seeded.org, lock=True)
        await unit.organizations.slug_taken("org-778")
        await unit.organizations.update(evolve(organization, name="Renamed"))
        page = await unit.organizations.list_for_user(seeded.consultant, PageRequest())
        await unit.organizations.list_for_user(seeded.consultant, later(page.next_after))

        await unit.memberships.add(Membership(seeded.org, seeded.newcomer, Role.MEMBER, now))
        assert await unit.memberships.get(seeded.org, seeded.owner) is not None
        await unit.memberships.set_role(seeded.org, seeded.newcomer, Role.ADMIN)
        await unit.memberships.count_owners(seeded.org)
        members = await unit.memberships.list(seeded.big_org, PageRequest())
        await unit.memberships.list(seeded.big_org, later(members.next_after))
        await unit.memberships.remove(seeded.org, seeded.newcomer)
        # last: it takes the organization's runs, pipelines and the rest with it
        await unit.organizations.delete(seeded.org)


async def drive_credentials(uow: UnitOfWorkFactory, seeded: Seeded, now: datetime) -> None:
    """Access tokens, API keys, idempotency records, the sign-in throttle."""
    async with uow() as unit:
        token = AccessToken(hashlib.sha256(b"plan-check").digest(), seeded.owner, now, now)
        await unit.access_tokens.add(token)
        seeded_token = hashlib.sha256(b"token-777").digest()
        await unit.access_tokens.principal_for(seeded_token, now)
        await unit.access_tokens.revoke(token.token_hash)
        await unit.access_tokens.revoke_all_of(seeded.owner)
        await unit.access_tokens.revoke_all_of(seeded.owner, keep=seeded_token)
        await unit.access_tokens.purge_expired(seeded.owner, now)

        key = a_key(seeded.org, "plan-check")
        await unit.api_keys.add(key)
        await unit.api_keys.get(seeded.org, key.id)
        assert await unit.api_keys.get_by_public_id("pub-777") is not None
        keys = await unit.api_keys.list(seeded.big_org, PageRequest(limit=1))
        await unit.api_keys.list(seeded.big_org, later(keys.next_after, 1))
        await unit.api_keys.mark_used(key.id, now)
        await unit.api_keys.delete(seeded.org, key.id)

        expires = now + timedelta(days=1)
        await unit.idempotency.claim("user:plan-check", "k", "f", now, expires)
        # a seeded record, answered a few minutes ago: the claim reads its answer back
        assert await unit.idempotency.claim("user:5", "key-5", "f", now, expires) is not None
        await unit.idempotency.save("user:plan-check", "k", StoredResponse(201, b"{}"))
        await unit.idempotency.purge_expired(now, 500)

        window = timedelta(seconds=900)
        keys_seen = ["account:plan-check", "address:plan-check"]
        # the address is over its limit: the attempt is taken back
        assert await unit.login_throttle.register_attempt(
            {keys_seen[0]: 5, keys_seen[1]: 0}, now, window
        )
        await unit.login_throttle.forgive(keys_seen, clear=keys_seen[:1])
        await unit.login_throttle.known("client:plan-check", now)
        await unit.login_throttle.remember("client:plan-check", now + timedelta(days=30))
        await unit.login_throttle.purge_expired(now - window, 500)


async def drive_catalog(uow: UnitOfWorkFactory, seeded: Seeded, now: datetime) -> None:
    """Data sources and pipelines."""
    async with uow() as unit:
        data_source = a_data_source(seeded.org, "plan-check")
        await unit.data_sources.add(data_source)
        assert await unit.data_sources.get(seeded.org, seeded.source) is not None
        await unit.data_sources.get(seeded.org, seeded.source, lock=True)
        found = await unit.data_sources.get_many(seeded.org, [seeded.source, seeded.destination])
        assert len(found) == 2
        await unit.data_sources.update(evolve(data_source, name="renamed"))
        await unit.data_sources.record_health(seeded.source, DataSourceHealth(last_check_at=now))
        sources = await unit.data_sources.list(seeded.big_org, PageRequest(limit=1))
        await unit.data_sources.list(seeded.big_org, later(sources.next_after, 1))
        await unit.data_sources.secret_references()

        pipeline = a_pipeline(seeded.org, seeded.source, seeded.destination, "plan-check")
        await unit.pipelines.add(pipeline)
        assert await unit.pipelines.get(seeded.org, seeded.pipeline) is not None
        await unit.pipelines.get(seeded.org, seeded.pipeline, lock=True)
        await unit.pipelines.update(evolve(pipeline, name="renamed"))
        pipelines = await unit.pipelines.list(seeded.big_org, PageRequest(limit=5))
        await unit.pipelines.list(seeded.big_org, later(pipelines.next_after, 5))
        await unit.pipelines.next_epoch(seeded.org, seeded.pipeline)
        await unit.pipelines.raise_epoch(seeded.org, seeded.pipeline, 10**15)
        state = {"cursor": "2026-02-01T00:00:00Z", "epoch": 3}
        await unit.pipelines.record_state(seeded.org, seeded.pipeline, "orders", state)
        await unit.pipelines.using(seeded.source)
        assert await unit.pipelines.due(now, 100)
        await unit.pipelines.record_scheduled(seeded.org, seeded.pipeline, now, now)
        await unit.pipelines.delete(seeded.org, pipeline.id)
        await unit.data_sources.delete(seeded.org, data_source.id)


async def drive_runs(uow: UnitOfWorkFactory, seeded: Seeded, now: datetime) -> None:
    """The run queue and the runs the API lists."""
    async with uow() as unit:
        await unit.runs.now()
        run = Run.queued(ids.new_id(), seeded.org, seeded.pipeline, RunTrigger.MANUAL, now, 3)
        await unit.runs.add(run)
        queued_org, queued_pipeline = seeded.queued
        busy = Run.queued(ids.new_id(), queued_org, queued_pipeline, RunTrigger.MANUAL, now, 3)
        with pytest.raises(RunAlreadyActive):
            await unit.runs.add(busy)
        scheduled = Run.queued(
            ids.new_id(), seeded.big_org, seeded.busy_pipeline, RunTrigger.SCHEDULE, now, 3,
            scheduled_for=now,
        )  # fmt: skip
        await unit.runs.add_scheduled(scheduled)
        assert await unit.runs.get(seeded.org, run.id) is not None
        await unit.runs.get(seeded.org, run.id, lock=True)
        claimed = run.claim("worker-plan-check", now, timedelta(seconds=30), 1)
        assert await unit.runs.save(claimed, attempt=run.attempt, status=run.status)
        renewed = claimed.renew(now, timedelta(seconds=30))
        assert await unit.runs.save(renewed, attempt=claimed.attempt, status=claimed.status)

        await drive_run_lists(unit, seeded)
        assert await unit.runs.next_claimable(now) is not None
        await unit.runs.expired(now, 100)
        await unit.runs.backlog(now)
        # as `thedata runs list [--stuck]` and `thedata runs retry` call them
        assert await unit.runs.find_in_any_organization(run.id) is not None
        await unit.runs.active(100)
        await unit.runs.stuck(now - timedelta(seconds=30), now - timedelta(minutes=5), 100)
        # as housekeeping calls it: the run retention's default, a batch of 500
        await unit.runs.purge_finished(now - timedelta(days=30), 500)


async def drive_run_lists(unit: PostgresUnitOfWork, seeded: Seeded) -> None:
    """Each filter combination (each is a statement of its own), first page and next."""
    for pipeline_id in (None, seeded.busy_pipeline):
        for status in (None, RunStatus.SUCCEEDED):
            page = await unit.runs.list(
                seeded.big_org, PageRequest(), pipeline_id=pipeline_id, status=status
            )
            await unit.runs.list(
                seeded.big_org, later(page.next_after), pipeline_id=pipeline_id, status=status
            )
    # a typical organization's runs, for a planner that knows organization 1 is the big one
    await unit.runs.list(seeded.org, PageRequest())


async def drive_workers(uow: UnitOfWorkFactory, now: datetime) -> None:
    """Worker presence (a small table by nature: its scans are not findings)."""
    async with uow() as unit:
        await unit.workers.beat("worker-plan-check", "host", 1, 4, 0)
        assert await unit.workers.all()
        await unit.workers.gone("worker-plan-check")
        await unit.workers.forget_silent(now - timedelta(minutes=1))


async def drive_secrets(pool: AsyncConnectionPool, uow: UnitOfWorkFactory, seeded: Seeded) -> None:
    """The secret store, and its part in a unit of work.

    A few secrets are sealed with key version 1, so the canary check reads two versions
    and the rotation has stale rows to move (the seed's ciphertexts open under no key: the
    canaries say so, which changes no plan).
    """
    old = PostgresSecretStore(pool, cipher(1))
    store = PostgresSecretStore(pool, cipher(2, 1))
    references = [f"data-source/plan-check/{n}" for n in range(3)]
    for reference in references:
        await old.put(seeded.org, reference, b"value")
    assert await store.get(seeded.org, references[0]) == b"value"
    assert await store.delete(seeded.org, references[0])
    assert await store.references(seeded.org)
    assert await store.inventory()
    await store.count_by_key_version()
    await store.unreadable_key_versions()
    assert await store.reencrypt(100) == 2

    async with uow() as unit:
        await unit.secrets.put(seeded.org, "data-source/plan-check/writer", b"value")
        await unit.secrets.delete(seeded.org, "data-source/plan-check/writer")
        await unit.secrets.committed()
        await unit.secrets.discarded()
        await unit.secrets.in_doubt()


async def drive_health_and_arrivals(
    pool: AsyncConnectionPool, database_url: str, capture: Capture
) -> None:
    """Readiness reads the migration history; the run arrivals' one statement is a LISTEN
    (skipped by kind), on a connection of their own."""
    check = PostgresHealthCheck(pool, load_migrations(), ManualClock(), timeout=5)
    assert len(await check.check()) == 2

    stopping = asyncio.Event()
    watching = asyncio.create_task(
        PostgresRunArrivals(database_url, connect_timeout=5).watch(lambda: None, stopping)
    )
    async with asyncio.timeout(10):
        await capture.ran("LISTEN")
    # set before the statement runs: the watch ends as soon as its LISTEN is answered
    stopping.set()
    await watching


# --- the test ------------------------------------------------------------------------------


@frozen
class Explained:
    """What explaining the captured statements found."""

    statements: int
    executions: int
    skipped: dict[str, int]
    unknown_kinds: list[Statement]
    scans: list[SeqScan]


def explain_all(
    database_url: str, captured: Sequence[Statement], sizes: Mapping[str, int]
) -> Explained:
    """Explain each distinct (statement, parameters) once."""
    seen: set[tuple[str, str]] = set()
    texts: set[str] = set()
    skipped: dict[str, int] = {}
    unknown: list[Statement] = []
    scans: list[SeqScan] = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        for statement in captured:
            key = (statement.query, repr(statement.params))
            if key in seen:
                continue
            seen.add(key)
            kind = statement_kind(statement.query)
            if kind in STATEMENTS_WITHOUT_A_PLAN:
                skipped[kind] = skipped.get(kind, 0) + 1
            elif kind not in EXPLAINABLE_KINDS:
                unknown.append(statement)
            else:
                texts.add(statement.query)
                scans += seq_scans(statement, explain(connection, statement), sizes)
    return Explained(len(texts), len(seen), skipped, unknown, scans)


def coverage_problems(capture: Capture, classes: Sequence[type]) -> list[str]:
    """Methods never called, called without a statement, or listed wrongly as statement-free."""
    problems = []
    by_method = capture.by_method()
    for cls in classes:
        for name in public_methods(cls):
            label = f"{cls.__name__}.{name}"
            ran = len(by_method.get(label, ()))
            if not capture.calls[label]:
                problems.append(f"{label} was never called: drive it in this test")
            elif label in METHODS_WITHOUT_STATEMENTS and ran:
                problems.append(f"{label} ran {ran} statements: take it off the no-SQL list")
            elif label not in METHODS_WITHOUT_STATEMENTS and not ran:
                problems.append(f"{label} was called but ran no statement")
    for label in METHODS_WITHOUT_STATEMENTS:
        if label not in {
            f"{cls.__name__}.{name}" for cls in classes for name in public_methods(cls)
        }:
            problems.append(f"{label} is listed but no longer exists")
    for statement in by_method.get(Capture.OUTSIDE, ()):
        problems.append(f"a statement ran outside every adapter method: {statement.query}")
    return problems


def scan_problems(scans: Sequence[SeqScan]) -> list[str]:
    """Scans not accepted by a list, and listed scans no longer found (strict, as an xfail)."""
    problems = []
    for scan in scans:
        key = (scan.statement.method, scan.table)
        if key in WHOLE_TABLE_READS or key in KNOWN_FINDINGS:
            continue
        if key in EARLY_STOPPING_SCANS and scan.stops_early:
            continue
        problems.append(
            f"{scan.statement.method} scans {scan.table} ({scan.rows} rows) sequentially"
            f"{' (stops early)' if scan.stops_early else ''}:\n"
            f"{scan.statement.query.strip()}\n{scan.excerpt}"
        )
    found = {(scan.statement.method, scan.table) for scan in scans}
    listed = WHOLE_TABLE_READS.keys() | EARLY_STOPPING_SCANS.keys() | KNOWN_FINDINGS.keys()
    problems += [
        f"{method} no longer scans {table}: take it off the list"
        for method, table in listed - found
    ]
    return problems


def foreign_key_problems(database_url: str, sizes: Mapping[str, int]) -> list[str]:
    with psycopg.connect(database_url) as connection:
        keys = foreign_keys(connection)
    unindexed = {
        key.name: key for key in keys if not key.indexed and sizes[key.table] > LARGE_TABLE_ROWS
    }
    problems = [
        f"foreign key {name} ({key.table}: {', '.join(key.columns)}) has no index: deleting"
        " or changing the row it references scans the table"
        for name, key in unindexed.items()
        if name not in KNOWN_UNINDEXED_FOREIGN_KEYS
    ]
    problems += [
        f"foreign key {name} is indexed now: take it off the list"
        for name in KNOWN_UNINDEXED_FOREIGN_KEYS.keys() - unindexed.keys()
    ]
    return problems


async def test_no_statement_scans_a_large_table(
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every adapter statement, explained on a seeded database, reads large tables through
    an index; every public method ran at least one of them."""
    url = migrated_database_url
    seeding = seed(url, SIZES)
    with psycopg.connect(url) as connection:
        sizes = table_sizes(connection)
    seeded = Seeded.load(url)

    classes = adapter_classes()
    capture = Capture()
    capture.install(monkeypatch)
    capture.instrument(monkeypatch, classes)
    now = datetime.now(UTC)
    async with pool_on(url, max_size=2) as pool:
        store = PostgresSecretStore(pool, cipher(2, 1))

        def uow() -> PostgresUnitOfWork:
            return PostgresUnitOfWork(pool, secrets=store.joined)

        await drive_identity(uow, seeded, now)
        await drive_credentials(uow, seeded, now)
        await drive_catalog(uow, seeded, now)
        await drive_runs(uow, seeded, now)
        await drive_workers(uow, now)
        await drive_secrets(pool, uow, seeded)
        await drive_health_and_arrivals(pool, url, capture)

    explained = explain_all(url, capture.statements, sizes)
    with capsys.disabled():
        print(summary(seeding, sizes, explained))  # noqa: T201

    problems = coverage_problems(capture, classes)
    problems += [f"unexplainable statement kind: {s.query}" for s in explained.unknown_kinds]
    problems += scan_problems(explained.scans)
    problems += foreign_key_problems(url, sizes)
    assert not problems, "\n\n".join(problems)
    assert explained.statements == EXPECTED_STATEMENTS, "update EXPECTED_STATEMENTS"


def summary(seeding: float, sizes: Mapping[str, int], explained: Explained) -> str:
    """What was seeded and explained, and each statement with a sequential scan, once."""
    tables = ", ".join(f"{table} {rows:,}" for table, rows in sorted(sizes.items()))
    lines = [
        f"\nquery plans: seeded in {seeding:.1f} s ({tables});"
        f" {explained.statements} distinct statements explained"
        f" ({explained.executions} with distinct parameters), skipped by kind:"
        f" {explained.skipped}"
    ]
    shown: set[tuple[str, str]] = set()
    for scan in explained.scans:
        if (scan.statement.method, scan.statement.query) in shown:
            continue
        shown.add((scan.statement.method, scan.statement.query))
        lines.append(f"  {scan.statement.method} scans {scan.table}: {verdict(scan)}")
        lines.append(scan.excerpt)
    return "\n".join(lines)


def verdict(scan: SeqScan) -> str:
    key = (scan.statement.method, scan.table)
    if key in WHOLE_TABLE_READS:
        return "a whole-table read, on purpose"
    if key in EARLY_STOPPING_SCANS and scan.stops_early:
        return "stops within a few rows"
    if key in KNOWN_FINDINGS:
        return "KNOWN FINDING, to fix"
    return "NEW FINDING"
