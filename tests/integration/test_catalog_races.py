"""Data sources and pipelines under concurrency, through HTTP on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import Client, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

pytestmark = pytest.mark.postgres


PASSWORD = "s3cret-password"


def warehouse(name: str) -> dict[str, Any]:
    """A postgres data source's creating body, with a password."""
    config = {"host": "db.example.com", "database": "sales", "user": "reader"}
    return {"name": name, "kind": "postgres", "config": config | {"password": PASSWORD}}


@asynccontextmanager
async def app_with_pool(database_url: str, data_root: Path, size: int) -> AsyncIterator[Client]:
    """The whole app with a database pool of ``size`` connections."""
    settings = make_settings(
        database_url=database_url,
        data_root=str(data_root),
        db_pool_min_size=1,
        db_pool_max_size=size,
        **CHEAP_HASHING,
    )
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        yield client


async def owner(client: Client) -> tuple[dict[str, str], str]:
    headers, _ = await register(client, "ada@example.com")
    return headers, await create_org(client, headers)


@pytest.mark.parametrize("pool_size", [1, 4])
async def test_concurrent_creates_with_passwords_all_succeed(
    database_url: str, tmp_path: Path, pool_size: int
) -> None:
    """Eight creates at once on a pool of one or four: every one is 201 (no second connection)."""
    async with app_with_pool(database_url, tmp_path, pool_size) as client:
        headers, org = await owner(client)
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/v1/orgs/{org}/data-sources", json=warehouse(f"s{n}"), headers=headers
                )
                for n in range(8)
            )
        )
        assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]


async def test_concurrent_patches_do_not_interleave(database_url: str, tmp_path: Path) -> None:
    """Two PATCHes at once: the result is one of them whole, and secrets match the config."""
    async with app_with_pool(database_url, tmp_path, 4) as client:
        headers, org = await owner(client)
        created = await client.post(
            f"/v1/orgs/{org}/data-sources", json=warehouse("w"), headers=headers
        )
        url = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
        for _ in range(5):
            first = {"config": {"host": "one.example.com", "password": "password-one"}}
            second = {"name": "renamed", "config": {"host": "two.example.com"}}
            answers = await asyncio.gather(
                client.patch(url, json=first, headers=headers),
                client.patch(url, json=second, headers=headers),
            )
            assert [a.status_code for a in answers] == [200, 200]
            final = (await client.get(url, headers=headers)).json()
            # whichever came last moved the source: its password came with it, or none did
            if final["config"]["host"] == "one.example.com":
                assert final["secret_fields_set"] == ["password"]
            else:
                assert final["secret_fields_set"] == []
            assert final["name"] == "renamed"


async def test_deleting_a_source_while_a_pipeline_is_created_never_fails_inside(
    database_url: str, tmp_path: Path
) -> None:
    """Delete and create race: each answer is a success or a 4xx problem, never a 500."""
    async with app_with_pool(database_url, tmp_path, 4) as client:
        headers, org = await owner(client)
        base = f"/v1/orgs/{org}"
        statuses: set[tuple[int, int]] = set()
        for n in range(10):
            a = await client.post(f"{base}/data-sources", json=warehouse(f"a{n}"), headers=headers)
            b = await client.post(f"{base}/data-sources", json=warehouse(f"b{n}"), headers=headers)
            pipeline = {
                "name": f"p{n}",
                "source_id": a.json()["id"],
                "destination_id": b.json()["id"],
                "streams": [{"name": "orders", "destination": "orders", "mode": "full_refresh"}],
            }
            deleted, created = await asyncio.gather(
                client.delete(f"{base}/data-sources/{b.json()['id']}", headers=headers),
                client.post(f"{base}/pipelines", json=pipeline, headers=headers),
            )
            statuses.add((deleted.status_code, created.status_code))
            assert deleted.status_code in (204, 409), deleted.text
            assert created.status_code in (201, 400, 404, 409), created.text
            # never both: a pipeline pointing at a deleted data source
            assert (deleted.status_code, created.status_code) != (204, 201)
