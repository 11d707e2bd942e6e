"""Liveness and readiness in the IETF health-check format, against a real database."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import create_org, register
from thedata.adapters.observability.metrics import REGISTRY
from thedata.adapters.postgres import load_migrations
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

pytestmark = pytest.mark.postgres


async def test_live_passes_without_touching_anything(client: Any) -> None:
    """Liveness is pass, in health+json, and is never cached."""
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"status": "pass"}


async def test_ready_passes_with_a_reachable_migrated_database(
    client: Any, database_url: str
) -> None:
    """Ready reports the database's connection latency and its migration state, both pass,
    and the workers heard of (none yet: a warning, still ready)."""
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    body = response.json()
    assert body["status"] == "warn"
    (workers,) = body["checks"]["workers"]
    assert (workers["status"], workers["observedValue"]) == ("warn", 0)
    assert "no worker heard of" in workers["output"]
    with psycopg.connect(database_url, autocommit=True) as connection:  # a worker's beat
        connection.execute("INSERT INTO workers VALUES ('w1', 'host-a', 7, 4, 1, now(), now())")
    body = (await client.get("/health/ready")).json()
    assert body["status"] == "pass"
    (workers,) = body["checks"]["workers"]
    assert (workers["status"], workers["observedValue"]) == ("pass", 1)
    assert workers["output"] == "1 live"
    entries = {e["componentId"]: e for e in body["checks"]["database"]}
    assert entries["connection"]["status"] == "pass"
    assert entries["connection"]["observedUnit"] == "ms"
    assert entries["connection"]["observedValue"] >= 0
    assert entries["migrations"] == entries["migrations"] | {"status": "pass", "observedValue": 0}
    (secrets,) = body["checks"]["secrets"]
    assert secrets["status"] == "pass"
    assert secrets["output"] == "sealing with key version 1"


@pytest.fixture
async def file_secrets_client(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """An app whose secret store is a file in a folder it cannot write to."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "secrets.json").mkdir()  # a directory where the file should be: unreadable
    settings = make_settings(
        database_url=database_url, secret_store="file", secret_file=str(folder / "secrets.json")
    )
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


async def test_an_unreadable_secret_store_fails_readiness(file_secrets_client: Any) -> None:
    """A secret store that cannot be read makes the service not ready, saying so."""
    response = await file_secrets_client.get("/health/ready")
    assert response.status_code == 503
    (secrets,) = response.json()["checks"]["secrets"]
    assert secrets["status"] == "fail"
    assert "secret file cannot be read" in secrets["output"]


def _key(version: int, fill: int) -> str:
    return f"{version}:" + base64.urlsafe_b64encode(bytes([fill]) * 32).decode()


async def _ready_with_keys(database_url: str, secret_keys: str) -> dict[str, Any]:
    settings = make_settings(database_url=database_url, secret_keys=secret_keys)
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        response = await client.get("/health/ready")
        (secrets,) = response.json()["checks"]["secrets"]
        return {"status_code": response.status_code, **secrets}


async def test_a_key_ring_that_cannot_open_the_stored_secrets_fails_readiness(
    database_url: str, log_lines: io.StringIO
) -> None:
    """A process started with the wrong key (or without an old one) is not ready, and says
    which key version's secrets do not open; the right ring passes and names the sealing
    key; secrets sealed by a key newer than the process's ring (another instance's, during
    a key roll-out) are a warning, still ready. The canaries are decrypted quietly: no
    decrypt failure is logged or counted."""
    right, rotated = _key(1, 7), f"{_key(2, 9)},{_key(1, 7)}"
    headers, organization = await _a_data_source_sealed_by(database_url, right, None)
    failures_before = _decrypt_failures()

    wrong_key = await _ready_with_keys(database_url, _key(1, 8))
    assert (wrong_key["status_code"], wrong_key["status"]) == (503, "fail")
    assert "key version 1 do not open" in wrong_key["output"]
    missing_key = await _ready_with_keys(database_url, _key(2, 9))
    assert (missing_key["status_code"], missing_key["status"]) == (503, "fail")
    assert "key version 1 do not open" in missing_key["output"]
    both = await _ready_with_keys(database_url, rotated)
    assert (both["status"], both["output"]) == ("pass", "sealing with key version 2")

    await _a_data_source_sealed_by(database_url, rotated, (headers, organization))
    not_yet_rotated = await _ready_with_keys(database_url, right)
    assert (not_yet_rotated["status_code"], not_yet_rotated["status"]) == (200, "warn")
    assert (
        "sealed with key version 2, newer than this process's ring (newest 1)"
        in (not_yet_rotated["output"])
    )
    assert _decrypt_failures() == failures_before
    assert "secret" not in " ".join(
        json.loads(line)["event"] for line in log_lines.getvalue().splitlines()
    )


async def _a_data_source_sealed_by(
    database_url: str, secret_keys: str, account: tuple[dict[str, str], str] | None
) -> tuple[dict[str, str], str]:
    """A new data source with a password, created by an app with ``secret_keys`` (for a
    new account and organization unless ``account`` gives them); the account."""
    settings = make_settings(database_url=database_url, secret_keys=secret_keys)
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        if account is None:
            headers, _ = await register(client, "keys@example.com")
            account = headers, await create_org(client, headers)
        headers, organization = account
        config = {"host": "127.0.0.1", "database": "d", "user": "u", "password": secret_keys}
        response = await client.post(
            f"/v1/orgs/{organization}/data-sources",
            headers=headers,
            json={"name": f"warehouse-{len(secret_keys)}", "kind": "postgres", "config": config},
        )
        assert response.status_code == 201, response.text
    return account


def _decrypt_failures() -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "thedata_secret_decrypt_failures"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


@pytest.fixture
async def unmigrated_client(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """An app whose code expects a migration the database does not have."""
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int);")
    container = build_container(make_settings(database_url=database_url, migrate_on_start=False))
    container.migrations.override(providers.Object(load_migrations(tmp_path)))
    async with AsyncTestClient(create_app(container)) as test_client:
        yield test_client


async def test_ready_fails_while_migrations_are_pending(unmigrated_client: Any) -> None:
    """A reachable database with an old schema is not ready: 503, saying what to run, and
    when to ask again (Retry-After), never cached."""
    response = await unmigrated_client.get("/health/ready")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "fail"
    entries = {e["componentId"]: e for e in body["checks"]["database"]}
    assert entries["connection"]["status"] == "pass"
    assert entries["migrations"]["status"] == "fail"
    assert "thedata migrate" in entries["migrations"]["output"]
