"""Query plans of the control database's statements: a seeded database, the statements the
adapters run (captured as they run), and the sequential scans their plans hold.

``tests/integration/test_query_plans.py`` drives every repository method over a database
seeded here, then explains what it captured. The seed is set-based SQL straight into the
migrated schema, sized so that every table that grows with use is far past the point where
a sequential scan could be the planner's honest choice for a lookup.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import psycopg
import pytest
from attrs import field, frozen
from psycopg import AsyncCursor

LARGE_TABLE_ROWS = 10_000
"""A table with more rows than this is large: a sequential scan of it fails the test."""


@frozen
class SeedSizes:
    """Rows per table. Every table that grows with use is seeded past ``LARGE_TABLE_ROWS``;
    the workers and the migration history stay as small as they are in production."""

    organizations: int = 20_000
    users: int = 50_000
    access_tokens: int = 60_000
    api_keys: int = 30_000
    pipelines: int = 200_000
    runs: int = 400_000
    # one organization's busy pipeline: a run every two minutes for a month
    busy_pipeline_runs: int = 20_000
    # one organization with a big team, one consultant in many organizations
    big_team: int = 2_000
    consultant_organizations: int = 1_000
    # a day of answers, a window of sign-in attempts, a month of known clients: sized
    # where a 500-row purge batch is a small part of the table, as on a busy service (at
    # 20,000 rows a hash join over the whole table is the honest plan for 500 of them)
    idempotency_keys: int = 100_000
    login_attempts: int = 100_000
    known_clients: int = 100_000
    workers: int = 8


# UUIDv7-shaped ids made in SQL: the millisecond part grows with ``n``, so id order is
# creation order as with the service's own ids; ``kind`` keeps each table's ids apart.
# A temporary function: it leaves nothing in the seeded schema.
_SEED_ID = """
CREATE FUNCTION pg_temp.seed_id(kind int, n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT (lpad(to_hex(1735689600000 + n * 1000), 12, '0') || '7' || lpad(to_hex(kind), 3, '0')
            || '8' || lpad(to_hex(n), 15, '0'))::uuid
$$
"""

# Organization o owns data sources o and o + organizations, pipelines o, o + organizations,
# ... (ten each), and has users 2o-1, 2o and 2o+1 (owner, admin, member): consecutive
# organizations share a user, and the users past 2 x organizations belong nowhere.
_SEED = (
    """
    INSERT INTO organizations (id, name, slug, created_at, updated_at)
    SELECT pg_temp.seed_id(1, o), 'Organization ' || o, 'org-' || o,
           now() - interval '31 days' + o * interval '1 second',
           now() - interval '31 days' + o * interval '1 second'
    FROM generate_series(1, %(organizations)s) AS o
    """,
    """
    INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
    SELECT pg_temp.seed_id(2, u), 'user' || u || '@example.com', 'User ' || u,
           '$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWQ$c2VlZHNlZWRzZWVkc2VlZA',
           now() - interval '31 days' + u * interval '1 second',
           now() - interval '31 days' + u * interval '1 second'
    FROM generate_series(1, %(users)s) AS u
    """,
    """
    INSERT INTO memberships (organization_id, user_id, role, joined_at)
    SELECT pg_temp.seed_id(1, o), pg_temp.seed_id(2, mod((o - 1) * 2 + k, %(users)s) + 1),
           (ARRAY['owner', 'admin', 'member'])[k + 1],
           now() - interval '31 days' + o * interval '1 second'
    FROM generate_series(1, %(organizations)s) AS o, generate_series(0, 2) AS k
    """,
    # the big team: organization 1, joined by the users right after the affiliated ones
    """
    INSERT INTO memberships (organization_id, user_id, role, joined_at)
    SELECT pg_temp.seed_id(1, 1), pg_temp.seed_id(2, 2 * %(organizations)s + 1 + m), 'viewer',
           now() - interval '20 days' + m * interval '1 second'
    FROM generate_series(1, %(big_team)s) AS m
    """,
    # the consultant: the last user, a member of the first organizations
    """
    INSERT INTO memberships (organization_id, user_id, role, joined_at)
    SELECT pg_temp.seed_id(1, o), pg_temp.seed_id(2, %(users)s), 'member',
           now() - interval '20 days' + o * interval '1 second'
    FROM generate_series(1, %(consultant_organizations)s) AS o
    """,
    # tokens live a day and go only when their user signs in again: most have expired
    """
    INSERT INTO access_tokens (token_hash, user_id, created_at, expires_at)
    SELECT sha256(convert_to('token-' || t, 'UTF8')),
           pg_temp.seed_id(2, mod(t - 1, %(users)s) + 1),
           now() - mod(t, 720) * interval '1 hour',
           now() - mod(t, 720) * interval '1 hour' + interval '24 hours'
    FROM generate_series(1, %(access_tokens)s) AS t
    """,
    """
    INSERT INTO api_keys (id, organization_id, name, role, public_id, secret_hash, created_by,
                          created_at, expires_at, last_used_at, creator_joined_at)
    SELECT pg_temp.seed_id(4, k), pg_temp.seed_id(1, o), 'key ' || k, 'member', 'pub-' || k,
           sha256(convert_to('key-' || k, 'UTF8')),
           pg_temp.seed_id(2, mod((o - 1) * 2, %(users)s) + 1),
           now() - interval '10 days', NULL, now() - mod(k, 100) * interval '1 hour',
           now() - interval '31 days' + o * interval '1 second'
    FROM generate_series(1, %(api_keys)s) AS k,
         LATERAL (SELECT mod(k - 1, %(organizations)s) + 1 AS o) AS owner
    """,
    """
    INSERT INTO data_sources (id, organization_id, name, kind, config, secret_references,
                              created_at, updated_at)
    SELECT d.id, pg_temp.seed_id(1, mod(d.n - 1, %(organizations)s) + 1), 'source ' || d.n,
           'postgres', '{"host": "db.example.com", "port": 5432, "database": "d", "user": "u"}',
           jsonb_build_object('password', 'data-source/' || d.id || '/password/' || d.n),
           now() - interval '30 days', now() - interval '30 days'
    FROM (SELECT n, pg_temp.seed_id(5, n) AS id
          FROM generate_series(1, 2 * %(organizations)s) AS n) AS d
    """,
    # each data source's password, sealed (as far as the plans care) with key version 2
    """
    INSERT INTO secrets (organization_id, reference, key_version, nonce, ciphertext,
                         created_at, updated_at)
    SELECT organization_id, reference.value, 2, '\\x000000000000000000000000'::bytea,
           sha256(convert_to(reference.value, 'UTF8')), created_at, created_at
    FROM data_sources, jsonb_each_text(secret_references) AS reference
    """,
    # 30 percent on a cron, 10 percent every hour; one in twenty disabled. The scheduler
    # keeps next_due_at ahead of now: a few are due, a few not computed yet.
    """
    INSERT INTO pipelines (id, organization_id, name, source_id, destination_id, streams,
                           schedule, enabled, state, created_at, updated_at, epoch,
                           last_scheduled_for, next_due_at)
    SELECT pg_temp.seed_id(6, p), pg_temp.seed_id(1, o), 'pipeline ' || p,
           pg_temp.seed_id(5, o), pg_temp.seed_id(5, o + %(organizations)s),
           '[{"name": "orders", "destination": "orders_copy", "mode": "incremental",
              "cursor_field": "updated_at", "primary_key": ["id"]}]',
           CASE WHEN mod(p, 10) < 3 THEN '{"cron": "0 3 * * *"}'::jsonb
                WHEN mod(p, 10) = 3 THEN '{"every_seconds": 3600}'::jsonb END,
           mod(p, 20) <> 7,
           '{"orders": {"cursor": "2026-01-01T00:00:00Z", "epoch": 1}}',
           now() - interval '30 days', now() - interval '30 days', 2,
           CASE WHEN mod(p, 10) < 4 THEN now() - interval '1 hour' END,
           CASE WHEN mod(p, 10) >= 4 THEN NULL
                WHEN mod(p, 1000) = 0 THEN now() - interval '1 minute'
                WHEN mod(p, 997) = 0 THEN NULL
                ELSE now() + mod(p, 1440) * interval '1 minute' END
    FROM generate_series(1, %(pipelines)s) AS p,
         LATERAL (SELECT mod(p - 1, %(organizations)s) + 1 AS o) AS owner
    """,
    # Two runs per pipeline over the 30 days the retention keeps (and a few hours more, for
    # the purge to find), in id and queue order. A pipeline's latest run is queued for one
    # pipeline in fifty and running for one in five hundred (half of those past their lease);
    # the rest finished, mostly well.
    """
    INSERT INTO runs (id, organization_id, pipeline_id, status, trigger, attempt, max_attempts,
                      queued_at, not_before, started_at, finished_at, worker_id,
                      lease_expires_at, epoch, streams, error, scheduled_for)
    SELECT pg_temp.seed_id(8, r.k), pg_temp.seed_id(1, r.o), pg_temp.seed_id(6, r.p), r.status,
           CASE WHEN mod(r.k, 3) = 0 THEN 'schedule' ELSE 'manual' END,
           CASE WHEN r.status = 'queued' THEN 0 ELSE 1 END, 3, r.queued_at,
           CASE WHEN r.status = 'queued' AND mod(r.p, 7) = 0 THEN now() + interval '1 minute' END,
           CASE WHEN r.status <> 'queued' THEN r.queued_at + interval '1 second' END,
           CASE WHEN r.status NOT IN ('queued', 'running')
                THEN r.queued_at + interval '1 minute' END,
           CASE WHEN r.status <> 'queued' THEN 'worker-' || mod(r.p, %(workers)s) END,
           CASE WHEN r.status <> 'running' THEN NULL
                WHEN mod(r.p, 1000) = 1 THEN now() - interval '1 minute'
                ELSE now() + interval '30 seconds' END,
           CASE WHEN r.status <> 'queued' THEN 1 END,
           CASE WHEN r.status IN ('succeeded', 'failed')
                THEN '{"orders": {"rows_read": 1000, "rows_written": 1000, "estimate": null}}'
                ELSE '{}' END::jsonb,
           CASE WHEN r.status = 'failed'
                THEN '{"type": "connection", "message": "refused", "retryable": false}'::jsonb
           END,
           CASE WHEN mod(r.k, 3) = 0 THEN r.queued_at END
    FROM (
        SELECT k, p, mod(p - 1, %(organizations)s) + 1 AS o,
               now() - interval '30 days 4 hours' + k * (interval '30 days 4 hours' / %(runs)s)
                   - interval '1 minute' AS queued_at,
               CASE WHEN k > %(runs)s - %(pipelines)s AND mod(p, 50) = 0 THEN 'queued'
                    WHEN k > %(runs)s - %(pipelines)s AND mod(p, 500) = 1 THEN 'running'
                    WHEN mod(k, 20) = 3 THEN 'failed'
                    WHEN mod(k, 100) = 7 THEN 'cancelled'
                    ELSE 'succeeded' END AS status
        FROM generate_series(1, %(runs)s) AS k,
             LATERAL (SELECT mod(k - 1, %(pipelines)s) + 1 AS p) AS pipeline
    ) AS r
    """,
    # pipeline 1 (of organization 1) is the busy one
    """
    INSERT INTO runs (id, organization_id, pipeline_id, status, trigger, attempt, max_attempts,
                      queued_at, started_at, finished_at, worker_id, epoch, streams,
                      scheduled_for)
    SELECT pg_temp.seed_id(9, b.m), pg_temp.seed_id(1, 1), pg_temp.seed_id(6, 1), 'succeeded',
           'schedule', 1, 3, b.queued_at, b.queued_at + interval '1 second',
           b.queued_at + interval '1 minute', 'worker-1', 1,
           '{"orders": {"rows_read": 10, "rows_written": 10, "estimate": null}}',
           b.queued_at
    FROM (SELECT m, now() - interval '30 days' + m * (interval '30 days' / %(busy_pipeline_runs)s)
                     - interval '30 seconds' AS queued_at
          FROM generate_series(1, %(busy_pipeline_runs)s) AS m) AS b
    """,
    # answers kept a day; housekeeping purges every minute, so few have expired
    """
    INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at, expires_at)
    SELECT 'user:' || i, 'key-' || i, md5(i::text), 201, convert_to('{}', 'UTF8'),
           now() - mod(i, 1455) * interval '1 minute',
           now() - mod(i, 1455) * interval '1 minute' + interval '24 hours'
    FROM generate_series(1, %(idempotency_keys)s) AS i
    """,
    # fifteen-minute windows, purged every minute
    """
    INSERT INTO login_attempts (key, window_started_at, attempts)
    SELECT 'account:' || md5(i::text), now() - mod(i, 960) * interval '1 second', mod(i, 5) + 1
    FROM generate_series(1, %(login_attempts)s) AS i
    """,
    """
    INSERT INTO known_clients (key, until)
    SELECT 'client:' || md5(i::text), now() + mod(i, 30) * interval '1 day'
    FROM generate_series(1, %(known_clients)s) AS i
    """,
    """
    INSERT INTO workers (id, host, pid, concurrency, runs_held, started_at, last_seen_at)
    SELECT 'worker-' || (w - 1), 'host-' || w, 1000 + w, 4, 1, now() - interval '1 day',
           now() - mod(w, 3) * interval '5 seconds'
    FROM generate_series(1, %(workers)s) AS w
    """,
)


def seed(database_url: str, sizes: SeedSizes) -> float:
    """Fill the migrated database at ``database_url``; the seconds it took.

    One transaction, every constraint checked; then ``VACUUM ANALYZE`` gives the planner
    the real sizes and the visibility map a live database has.
    """
    started = time.monotonic()
    parameters = attrs.asdict(sizes)
    with psycopg.connect(database_url) as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute(_SEED_ID)
        for statement in _SEED:
            connection.execute(statement, parameters)
        connection.commit()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def table_sizes(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Each user table's row count, as the planner knows it (after ANALYZE)."""
    rows = connection.execute(
        "SELECT c.relname, c.reltuples::bigint FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname = 'public'"
    ).fetchall()
    return {str(name): int(count) for name, count in rows}


# --- capturing what the adapters run -------------------------------------------------------


@frozen
class Statement:
    """One executed statement, with the parameters it ran with and the method that ran it."""

    method: str
    query: str
    params: Any = field(eq=False, hash=False)


_RUNNING_METHOD: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "running_method", default=None
)


class Capture:
    """Records each statement run through psycopg's async cursors and each call of the
    instrumented methods, naming the innermost instrumented method running at the time."""

    OUTSIDE = "(no instrumented method)"

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.calls: Counter[str] = Counter()
        self._awaited: dict[str, asyncio.Event] = {}

    def record(self, cursor: AsyncCursor[Any], query: Any, params: Any) -> None:
        text = query if isinstance(query, str) else query.as_string(cursor.connection)
        method = _RUNNING_METHOD.get() or self.OUTSIDE
        self.statements.append(Statement(method, text, params))
        if (awaited := self._awaited.get(statement_kind(text))) is not None:
            awaited.set()

    async def ran(self, kind: str) -> None:
        """Return once a statement of ``kind`` (``LISTEN``, say) has been sent."""
        awaited = self._awaited.setdefault(kind, asyncio.Event())
        if any(statement_kind(statement.query) == kind for statement in self.statements):
            awaited.set()
        await awaited.wait()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Capture at the cursor: ``connection.execute`` and the pool's connections go
        through it, and so does any cursor class a pool configures (it calls ``super()``)."""
        capture = self
        execute, executemany = AsyncCursor.execute, AsyncCursor.executemany

        async def captured_execute(
            cursor: AsyncCursor[Any], query: Any, params: Any = None, **kwargs: Any
        ) -> Any:
            capture.record(cursor, query, params)
            return await execute(cursor, query, params, **kwargs)

        async def captured_executemany(
            cursor: AsyncCursor[Any], query: Any, params_seq: Any, **kwargs: Any
        ) -> None:
            # one execution is enough to explain: the statement's plan is the same for each
            params_seq = list(params_seq)
            if params_seq:
                capture.record(cursor, query, params_seq[0])
            await executemany(cursor, query, params_seq, **kwargs)

        monkeypatch.setattr(AsyncCursor, "execute", captured_execute)
        monkeypatch.setattr(AsyncCursor, "executemany", captured_executemany)

    def instrument(self, monkeypatch: pytest.MonkeyPatch, classes: Sequence[type]) -> None:
        """Wrap each public method of ``classes`` so its calls and statements are counted."""
        for cls in classes:
            for name in public_methods(cls):
                original = vars(cls)[name]
                monkeypatch.setattr(cls, name, self._wrapped(f"{cls.__name__}.{name}", original))

    def _wrapped(self, label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        calls = self.calls
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                calls[label] += 1
                token = _RUNNING_METHOD.set(label)
                try:
                    return await method(*args, **kwargs)
                finally:
                    _RUNNING_METHOD.reset(token)

            return async_wrapper

        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[label] += 1
            token = _RUNNING_METHOD.set(label)
            try:
                return method(*args, **kwargs)
            finally:
                _RUNNING_METHOD.reset(token)

        return wrapper

    def by_method(self) -> dict[str, list[Statement]]:
        grouped: dict[str, list[Statement]] = {}
        for statement in self.statements:
            grouped.setdefault(statement.method, []).append(statement)
        return grouped


def public_methods(cls: type) -> list[str]:
    """The methods ``cls`` defines itself whose names do not start with an underscore
    (properties are not methods: they read state, they run no statement)."""
    return sorted(
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    )


# --- statement kinds -----------------------------------------------------------------------

_FIRST_WORD = re.compile(r"^(?:\s|--[^\n]*\n)*([A-Za-z]+)")

EXPLAINABLE_KINDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "MERGE"})


def statement_kind(query: str) -> str:
    """The statement's first keyword, upper case (``?`` when it has none)."""
    match = _FIRST_WORD.match(query)
    return match.group(1).upper() if match else "?"


# --- plans ---------------------------------------------------------------------------------


@frozen
class SeqScan:
    """A sequential scan of a large table in one statement's plan; ``stops_early`` when a
    LIMIT above it is expected to stop it within a hundredth of the table."""

    statement: Statement
    table: str
    rows: int
    stops_early: bool
    excerpt: str


def explain(connection: psycopg.Connection[Any], statement: Statement) -> dict[str, Any]:
    """The plan of ``statement`` with its own parameters: the planner sees the values, as it
    does for the custom plans of a statement's first executions."""
    query = "EXPLAIN (FORMAT JSON) " + statement.query
    row = connection.execute(query, statement.params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


Node = Mapping[str, Any]


def plan_nodes(node: Node, above: tuple[Node, ...] = ()) -> Iterator[tuple[Node, tuple[Node, ...]]]:
    """Every node of a plan tree with the nodes above it, nearest first (init plans and sub
    plans included: they are children too)."""
    yield node, above
    for child in node.get("Plans", ()):
        yield from plan_nodes(child, (node, *above))


def seq_scans(statement: Statement, plan: Node, sizes: Mapping[str, int]) -> list[SeqScan]:
    """The sequential scans (parallel or not) of tables with more than ``LARGE_TABLE_ROWS``."""
    found = []
    for node, above in plan_nodes(plan):
        table = str(node.get("Relation Name"))
        if node["Node Type"] == "Seq Scan" and sizes.get(table, 0) > LARGE_TABLE_ROWS:
            early = _stops_early(node, above)
            found.append(SeqScan(statement, table, sizes[table], early, excerpt(plan)))
    return found


# nodes that pass rows on one by one, so a LIMIT above them still stops the scan below
_PASSING_ROWS_ON = frozenset({"LockRows", "Subquery Scan", "Result", "Gather"})


def _stops_early(scan: Node, above: Sequence[Node]) -> bool:
    """Whether a LIMIT right above the scan is costed at under 1/100 of the whole scan: the
    planner expects to read a few of its rows (every row qualifies, say), not the table."""
    for node in above:
        if node["Node Type"] == "Limit":
            return float(node["Total Cost"]) < float(scan["Total Cost"]) / 100
        if node["Node Type"] not in _PASSING_ROWS_ON:
            return False
    return False


def excerpt(plan: Mapping[str, Any], depth: int = 0) -> str:
    """The plan as indented lines: node type, relation, index, conditions, estimated rows."""
    parts = [str(plan["Node Type"])]
    if "Relation Name" in plan:
        parts.append(f"on {plan['Relation Name']}")
    if "Index Name" in plan:
        parts.append(f"using {plan['Index Name']}")
    for key in ("Index Cond", "Recheck Cond", "Filter", "Hash Cond", "Join Filter"):
        if key in plan:
            parts.append(f"{key}: {plan[key]}")
    parts.append(f"(rows={plan.get('Plan Rows')} cost={plan.get('Total Cost')})")
    lines = ["  " * depth + "-> " + " ".join(parts)]
    lines += [excerpt(child, depth + 1) for child in plan.get("Plans", ())]
    return "\n".join(lines)


# --- foreign keys --------------------------------------------------------------------------

# The referencing columns of each foreign key, and whether some index of the referencing
# table starts with them (in any order): without one, a delete or key change of the
# referenced row scans the referencing table in the trigger's query, which no EXPLAIN of
# the deleting statement shows.
_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.conname,
       array(SELECT a.attname FROM unnest(c.conkey) AS k(attnum)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY a.attname)::text[],
       EXISTS (
           SELECT FROM pg_index i
           WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
             AND (SELECT array_agg(x ORDER BY x)
                  FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) AS x)
                 = (SELECT array_agg(x ORDER BY x) FROM unnest(c.conkey) AS x)
       )
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
"""


@frozen
class ForeignKey:
    table: str
    name: str
    columns: tuple[str, ...]
    indexed: bool


def foreign_keys(connection: psycopg.Connection[Any]) -> list[ForeignKey]:
    """Every foreign key of the public schema."""
    return [
        ForeignKey(str(table), str(name), tuple(columns), bool(indexed))
        for table, name, columns, indexed in connection.execute(_FOREIGN_KEYS).fetchall()
    ]
