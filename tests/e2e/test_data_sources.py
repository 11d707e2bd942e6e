"""``/v1/orgs/{org_id}/data-sources`` through HTTP: CRUD, secrets, checks, discovery, circuits."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import free_port, tcp_endpoint
from tests.database import every_value_as_bytes
from tests.e2e.api import Client, add_member, create_org, problem_type, register
from tests.scraped import scraped, value

PASSWORD = "Pg-Secret-4711"


@pytest.fixture
def postgres(source_database_url: str) -> Iterator[dict[str, Any]]:
    """A config for another database of the test server (never the app's own), over TCP."""
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)")
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        yield {"host": host, "port": port, "database": database, "user": user}


async def create(client: Client, headers: dict[str, str], org: str, **body: Any) -> Any:
    return await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)


async def test_a_postgres_source_is_created_read_and_listed_without_its_password(
    client: Client, postgres: dict[str, Any], database_url: str, log_lines: io.StringIO
) -> None:
    """The password is accepted, sealed, named in secret_fields_set, and found nowhere else."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    config = postgres | {"password": PASSWORD}
    created = await create(client, headers, org, name="warehouse", kind="postgres", config=config)
    assert created.status_code == 201
    body = created.json()
    assert body["kind"] == "postgres"
    assert body["secret_fields_set"] == ["password"]
    assert "password" not in body["config"]
    assert body["config"] | {} == postgres | {"schema": "public", "sslmode": "prefer"}
    assert body["health"] == {"circuit": "closed", "last_check_at": None, "last_error": None}
    path = f"/v1/orgs/{org}/data-sources/{body['id']}"
    responses = [
        created,
        await client.get(path, headers=headers),
        await client.get(f"/v1/orgs/{org}/data-sources", headers=headers),
        await client.patch(path, json={"name": "dwh"}, headers=headers),
        await client.post(path + "/check", headers=headers),
        await client.get(path + "/streams", headers=headers),
    ]
    # the test server asks no password; with one set the connector insists on SCRAM (only a
    # server that knows the password can prove it), so the check fails and discovery is a 400
    assert all(r.status_code in (200, 201) for r in responses[:-1])
    assert responses[-2].json()["ok"] is False
    assert responses[-1].status_code == 400
    assert all(PASSWORD not in r.text for r in responses)
    assert PASSWORD not in log_lines.getvalue()
    assert PASSWORD.encode() not in every_value_as_bytes(database_url)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "mysql", "config": {}}, "/kind"),
        (
            {"name": "x", "kind": "postgres", "config": {"database": "d", "user": "u"}},
            "/config/host",
        ),
        (
            {
                "name": "x",
                "kind": "postgres",
                "config": {"host": "h", "database": "d", "user": "u", "port": 70000},
            },
            "/config/port",
        ),
        (
            {
                "name": "x",
                "kind": "postgres",
                "config": {"host": "h", "database": "d", "user": "u", "tls": 1},
            },
            "/config/tls",
        ),
        (
            {"name": "x", "kind": "file", "config": {"path": "../up", "format": "csv"}},
            "/config/path",
        ),
        (
            {"name": "x", "kind": "file", "config": {"path": "/etc", "format": "csv"}},
            "/config/path",
        ),
        (
            {"name": "x", "kind": "file", "config": {"path": "ok", "format": "xml"}},
            "/config/format",
        ),
        ({"kind": "file", "config": {"path": "ok", "format": "csv"}}, "/name"),
        (
            {
                "name": "x",
                "kind": "postgres",
                "config": {"host": "h", "database": "d", "user": "u", "schema": "pg_temp"},
            },
            "/config/schema",
        ),
        (
            {
                "name": "x",
                "kind": "postgres",
                "config": {"host": "h", "database": "é" * 40, "user": "u"},
            },
            "/config/database",
        ),
    ],
)
async def test_invalid_configs_name_the_field(
    client: Client, body: dict[str, Any], field: str
) -> None:
    """Wrong kind, missing field, out-of-range port, escaping path: 400 naming it."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    response = await create(client, headers, org, **body)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_symlink_out_of_the_data_root_is_refused(client: Client, tmp_path: Path) -> None:
    """A folder that is a symlink to somewhere outside the data root is 400."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    (tmp_path / "data" / org).mkdir(parents=True)  # the organization's own folder
    (tmp_path / "data" / org / "sneaky").symlink_to("/etc")
    config = {"path": "sneaky", "format": "csv"}
    response = await create(client, headers, org, name="f", kind="file", config=config)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "/config/path"


async def test_names_are_unique_per_organization(client: Client) -> None:
    """A second data source with the same name is 409; another organization may reuse it."""
    headers, _ = await register(client, "ada@x.io")
    org, other = await create_org(client, headers, "A"), await create_org(client, headers, "B")
    config = {"path": "files", "format": "csv"}
    assert (
        await create(client, headers, org, name="n", kind="file", config=config)
    ).status_code == 201
    again = await create(client, headers, org, name="n", kind="file", config=config)
    assert again.status_code == 409
    assert problem_type(again) == "data-source-name-taken"
    assert (
        await create(client, headers, other, name="n", kind="file", config=config)
    ).status_code == 201


async def secret_row(database_url: str) -> tuple[bytes, ...]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT nonce, ciphertext FROM secrets").fetchall()
    return tuple(bytes(column) for row in rows for column in row)


async def test_patch_keeps_a_secret_it_does_not_mention_and_replaces_one_it_does(
    client: Client, postgres: dict[str, Any], database_url: str
) -> None:
    """Changing the schema leaves the sealed password as it was; sending one re-seals it.

    (Changing where it connects, such as the port, forgets the password: see the use case.)
    """
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    created = await create(
        client, headers, org, name="w", kind="postgres", config=postgres | {"password": PASSWORD}
    )
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
    before = await secret_row(database_url)
    patched = await client.patch(path, json={"config": {"schema": "sales"}}, headers=headers)
    assert patched.json()["config"]["schema"] == "sales"
    assert patched.json()["secret_fields_set"] == ["password"]
    assert await secret_row(database_url) == before
    await client.patch(path, json={"config": {"password": "another-one"}}, headers=headers)
    assert await secret_row(database_url) != before
    bad = await client.patch(path, json={"config": {"port": 0}}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "/config/port"


async def test_deleting_a_source_deletes_its_secret_but_not_while_a_pipeline_uses_it(
    client: Client, postgres: dict[str, Any], database_url: str
) -> None:
    """409 while in use; after the pipeline goes, 204 and the sealed password is gone too."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    created = await create(
        client, headers, org, name="w", kind="postgres", config=postgres | {"password": PASSWORD}
    )
    source = created.json()["id"]
    pipeline = await client.post(
        f"/v1/orgs/{org}/pipelines",
        json={
            "name": "copy",
            "source_id": source,
            "destination_id": source,
            "streams": [{"name": "orders", "destination": "orders_copy", "mode": "full_refresh"}],
        },
        headers=headers,
    )
    path = f"/v1/orgs/{org}/data-sources/{source}"
    in_use = await client.delete(path, headers=headers)
    assert in_use.status_code == 409
    assert problem_type(in_use) == "data-source-in-use"
    await client.delete(f"/v1/orgs/{org}/pipelines/{pipeline.json()['id']}", headers=headers)
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert (await client.get(path, headers=headers)).status_code == 404
    assert await secret_row(database_url) == ()


async def test_a_check_reports_latency_and_records_health(
    client: Client, postgres: dict[str, Any]
) -> None:
    """A reachable database: ok with its latency; the source shows when it was checked."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    created = await create(client, headers, org, name="w", kind="postgres", config=postgres)
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
    check = await client.post(path + "/check", headers=headers)
    assert check.status_code == 200
    assert check.json()["ok"] is True
    assert check.json()["latency_ms"] > 0
    assert "error" not in check.json()
    health = (await client.get(path, headers=headers)).json()["health"]
    assert health["last_check_at"] is not None
    assert health["last_error"] is None


async def test_a_closed_port_is_ok_false_and_repeated_failures_open_the_circuit(
    client: Client, postgres: dict[str, Any], log_lines: io.StringIO
) -> None:
    """200 ok:false with a message; after five failures the circuit shows open, and says so."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    config = postgres | {"port": free_port(), "password": PASSWORD}
    created = await create(client, headers, org, name="dead", kind="postgres", config=config)
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
    before = scraped()
    results = [(await client.post(path + "/check", headers=headers)).json() for _ in range(6)]
    after = scraped()
    assert all(r["ok"] is False for r in results)
    opened = "thedata_circuit_breaker_transitions_total"
    assert (
        value(after, opened, kind="postgres", state="open")
        - value(before, opened, kind="postgres", state="open")
        == 1
    )
    open_now = "thedata_circuit_breakers_open"
    assert value(after, open_now, kind="postgres") - value(before, open_now, kind="postgres") == 1
    assert "refused" in results[0]["error"].lower()
    assert all(r["latency_ms"] < 5000 for r in results)
    assert "recent calls" in results[5]["error"]  # refused by the open circuit
    assert all(PASSWORD not in r["error"] for r in results)
    health = (await client.get(path, headers=headers)).json()["health"]
    assert health["circuit"] == "open"
    logged = [
        json.loads(line) for line in log_lines.getvalue().splitlines() if "circuit open" in line
    ]
    assert len(logged) == 1
    assert logged[0]["data_source_id"] == created.json()["id"]
    assert logged[0]["kind"] == "postgres"
    assert logged[0]["level"] == "warning"
    streams = await client.get(path + "/streams", headers=headers)
    assert streams.status_code == 503
    assert "Retry-After" in streams.headers


async def test_discovery_lists_tables_with_columns_and_keys(
    client: Client, postgres: dict[str, Any]
) -> None:
    """GET …/streams shows the seeded table with its columns, types and primary key."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    created = await create(client, headers, org, name="w", kind="postgres", config=postgres)
    streams = await client.get(
        f"/v1/orgs/{org}/data-sources/{created.json()['id']}/streams", headers=headers
    )
    orders = {s["name"]: s for s in streams.json()["streams"]}["orders"]
    assert orders == {
        "name": "orders",
        "fields": [{"name": "id", "type": "bigint"}, {"name": "total", "type": "numeric"}],
        "primary_key": ["id"],
    }


async def test_viewers_read_and_members_write(client: Client, tmp_path: Path) -> None:
    """A viewer may list but not create (403); a member may create and check."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    viewer, _ = await add_member(client, owner, org, "v@x.io", "viewer")
    member, _ = await add_member(client, owner, org, "m@x.io", "member")
    (tmp_path / "data" / org / "files").mkdir(parents=True)  # the organization's own folder
    config = {"path": "files", "format": "csv"}
    denied = await create(client, viewer, org, name="f", kind="file", config=config)
    assert denied.status_code == 403
    created = await create(client, member, org, name="f", kind="file", config=config)
    assert created.status_code == 201
    listed = await client.get(f"/v1/orgs/{org}/data-sources", headers=viewer)
    assert [d["name"] for d in listed.json()["items"]] == ["f"]
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}/check"
    assert (await client.post(path, headers=viewer)).status_code == 403
    assert (await client.post(path, headers=member)).json()["ok"] is True


async def test_a_retried_create_makes_one_source(client: Client) -> None:
    """Idempotency-Key on create: the same answer, one data source."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    keyed = headers | {"Idempotency-Key": "ds-1"}
    body = {"name": "f", "kind": "file", "config": {"path": "files", "format": "jsonl"}}
    first = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=keyed)
    again = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=keyed)
    assert again.content == first.content
    listed = await client.get(f"/v1/orgs/{org}/data-sources", headers=headers)
    assert len(listed.json()["items"]) == 1
