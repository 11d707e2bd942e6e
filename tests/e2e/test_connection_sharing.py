"""Through HTTP, with a pool of two: whatever a request ends with, its connection is back.

A request's caller and use case share one pooled connection (adapters/postgres/handoff.py);
the connection must return to the pool however the request ends: a refused caller, a
use case that refuses, a request invalid after its caller was known, a write. With two
connections and a one-second acquire timeout, one connection kept out of the pool per
request would turn the later requests into 503s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import Client, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app
from thedata.entrypoints.resolve import resolve


@pytest.fixture
async def small_pool(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Client, Any]]:
    settings = make_settings(
        database_url=database_url,
        data_root=str(tmp_path / "data"),
        db_pool_min_size=2,
        db_pool_max_size=2,
        db_acquire_timeout=1.0,
        **CHEAP_HASHING,
    )
    container = build_container(settings)
    async with AsyncTestClient(create_app(container)) as client:
        yield client, await resolve(container.pool)


async def test_every_way_a_request_ends_gives_its_connection_back(
    small_pool: tuple[Client, Any],
) -> None:
    """Refused callers, refusals, invalid input and writes, many times over: no 503, and
    both connections are idle in the pool afterwards."""
    client, pool = small_pool
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    outsider, _ = await register(client, "eve@x.io")
    signed_out, _ = await register(client, "bob@x.io")
    assert (await client.post("/v1/auth/logout", headers=signed_out)).status_code == 204
    missing = "00000000-0000-7000-8000-000000000000"
    requests = [
        ("GET", f"/v1/orgs/{org}/pipelines", headers, 200),
        ("GET", f"/v1/orgs/{org}/pipelines", signed_out, 401),  # the caller refused
        ("GET", f"/v1/orgs/{org}/pipelines", outsider, 404),  # the use case refuses
        ("GET", f"/v1/orgs/{org}/pipelines/{missing}", headers, 404),
        ("GET", f"/v1/orgs/{org}/pipelines?limit=0", headers, 400),  # invalid, caller known
        ("POST", f"/v1/orgs/{org}/pipelines", headers, 400),  # no body
        ("PATCH", f"/v1/orgs/{org}", headers, 200),  # a write that commits
    ]
    for _ in range(10):
        for method, path, who, status in requests:
            body = {"name": "Acme"} if method == "PATCH" else None
            answer = await client.request(method, path, headers=who, json=body)
            assert answer.status_code == status, (method, path, answer.text)
    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] == 2
