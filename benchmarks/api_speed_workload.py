"""What the API speed benchmark asks for: the seeded ids, a signed-in member per
organization, and the request lists of each endpoint.

The ids are read from the copy with plain SQL (they are the benchmark's test
data, not something measured); the access tokens come from the service's own
sign-in (``IssueAccessToken``), so they are fresh on every run. Organization
``k`` is called by its member ``k mod 5`` (the owner in one in five).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from uuid import UUID

import msgspec
import psycopg
from attrs import frozen

from benchmarks.api_speed_seed import MEMBERS, PASSWORD, email, settings_for
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

ENDPOINTS = (
    "live",
    "get pipeline",
    "list pipelines",
    "create pipeline",
    "get run",
    "list runs",
    "trigger run",
)
WRITES = frozenset({"create pipeline", "trigger run"})


@frozen
class Organization:
    """A seeded organization, the token of the member who calls it, and its ids."""

    id: UUID
    token: str
    source_id: UUID
    destination_id: UUID
    pipelines: list[UUID]
    runs: list[UUID]
    idle: list[UUID]
    """Pipelines without a queued or running run: a trigger on them is a 202."""


@frozen
class Workload:
    organizations: list[Organization]
    seeded_until: datetime
    """The last seeded run's queue time: runs queued after it are the benchmark's."""


async def _sign_in(database_url: str, data_root: Path, emails: list[str]) -> list[str]:
    async with started(build_container(settings_for(database_url, data_root))) as c:
        issue = await resolve(c.issue_access_token)
        return [(await issue(e, PASSWORD, "127.0.0.1")).access_token for e in emails]


def load(database_url: str, data_root: Path) -> Workload:
    with psycopg.connect(database_url) as connection:
        orgs = connection.execute("SELECT id, name FROM organizations ORDER BY name").fetchall()
        sources: dict[UUID, dict[str, UUID]] = defaultdict(dict)
        for org, name, id_ in connection.execute(
            "SELECT organization_id, name, id FROM data_sources"
        ):
            sources[org][name] = id_
        pipelines: dict[UUID, list[UUID]] = defaultdict(list)
        for org, id_ in connection.execute("SELECT organization_id, id FROM pipelines ORDER BY id"):
            pipelines[org].append(id_)
        runs: dict[UUID, list[UUID]] = defaultdict(list)
        active: set[UUID] = set()
        for org, id_, pipeline, status in connection.execute(
            "SELECT organization_id, id, pipeline_id, status FROM runs ORDER BY id"
        ):
            runs[org].append(id_)
            if status in ("queued", "running"):
                active.add(pipeline)
        row = connection.execute("SELECT max(queued_at) FROM runs").fetchone()
    if row is None or row[0] is None:
        raise SystemExit("the seeded database has no runs: drop its template to seed again")
    emails = [email(k * MEMBERS + k % MEMBERS) for k in range(len(orgs))]
    tokens = asyncio.run(_sign_in(database_url, data_root, emails))
    organizations = [
        Organization(
            id=org,
            token=token,
            source_id=sources[org]["source"],
            destination_id=sources[org]["destination"],
            pipelines=pipelines[org],
            runs=runs[org],
            idle=[p for p in pipelines[org] if p not in active],
        )
        for (org, _), token in zip(orgs, tokens, strict=True)
    ]
    return Workload(organizations, row[0])


def _create_body(org: Organization) -> str:
    body = msgspec.json.encode(
        {
            "name": "NAME",
            "source_id": org.source_id,
            "destination_id": org.destination_id,
            "streams": [
                {"name": "orders", "destination": "orders", "mode": "full_refresh"},
                {
                    "name": "customers",
                    "destination": "customers",
                    "mode": "incremental",
                    "cursor_field": "updated_at",
                    "primary_key": ["id"],
                },
            ],
            "schedule": {"cron": "0 3 * * *"},
        }
    ).decode()
    return body.replace("NAME", "%s")


def request_lines(workload: Workload) -> dict[str, list[str]]:
    """Each endpoint's request list, shuffled (with a fixed seed) across organizations."""
    orgs = workload.organizations
    shuffle = random.Random(12).shuffle  # noqa: S311 - an order, not a secret
    lines: dict[str, list[str]] = {
        "live": ["GET\t/health/live\t\t"],
        "get pipeline": [
            f"GET\t/v1/orgs/{o.id}/pipelines/{p}\t{o.token}\t" for o in orgs for p in o.pipelines
        ],
        "list pipelines": [f"GET\t/v1/orgs/{o.id}/pipelines?limit=50\t{o.token}\t" for o in orgs],
        "create pipeline": [
            f"POST\t/v1/orgs/{o.id}/pipelines\t{o.token}\t{_create_body(o)}" for o in orgs
        ],
        "get run": [f"GET\t/v1/orgs/{o.id}/runs/{r}\t{o.token}\t" for o in orgs for r in o.runs],
        "list runs": [f"GET\t/v1/orgs/{o.id}/runs?limit=50\t{o.token}\t" for o in orgs],
        "trigger run": [
            f"POST\t/v1/orgs/{o.id}/pipelines/{p}/runs\t{o.token}\t" for o in orgs for p in o.idle
        ],
    }
    for endpoint in lines.values():
        shuffle(endpoint)
    return lines


def forget_triggers(database_url: str, workload: Workload) -> int:
    """Delete the runs the benchmark queued: every pipeline is idle again as seeded."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        deleted = connection.execute(
            "DELETE FROM runs WHERE queued_at > %s", (workload.seeded_until,)
        )
        return deleted.rowcount
