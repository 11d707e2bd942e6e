"""``/v1/orgs/{org_id}/pipelines`` through HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api import Client, create_org, problem_type, register

STREAMS: list[dict[str, Any]] = [
    {
        "name": "orders",
        "destination": "orders",
        "mode": "incremental",
        "cursor_field": "updated_at",
        "primary_key": ["id"],
    },
    {"name": "customers", "destination": "customers", "mode": "full_refresh"},
]


@pytest.fixture
async def setup(client: Client, tmp_path: Path) -> tuple[dict[str, str], str, str, str]:
    """A user's headers, their organization, and two file data sources in it."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = []
    for name in ("in", "out"):
        (tmp_path / "data" / name).mkdir(parents=True, exist_ok=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        created = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)
        ids.append(created.json()["id"])
    return headers, org, ids[0], ids[1]


def pipeline(source: str, destination: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "nightly",
        "source_id": source,
        "destination_id": destination,
        "streams": STREAMS,
        "schedule": {"cron": "0 3 * * *"},
    } | changes


async def test_a_pipeline_is_created_read_listed_and_deleted(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """201 with its streams, schedule, empty state and next due time; then GET, list, DELETE."""
    headers, org, source, destination = setup
    created = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, destination), headers=headers
    )
    assert created.status_code == 201
    body = created.json()
    assert body["streams"][0] == STREAMS[0]
    assert body["streams"][1] == STREAMS[1] | {"cursor_field": None, "primary_key": []}
    assert body["schedule"] == {"cron": "0 3 * * *"}
    assert body["enabled"] is True
    assert body["state"] == {}
    assert body["next_run_at"].endswith("T03:00:00Z")
    path = f"/v1/orgs/{org}/pipelines/{body['id']}"
    assert (await client.get(path, headers=headers)).json() == body
    listed = await client.get(f"/v1/orgs/{org}/pipelines", headers=headers)
    assert [p["id"] for p in listed.json()["items"]] == [body["id"]]
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert (await client.get(path, headers=headers)).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": {"every_seconds": 30}}, "/schedule/every_seconds"),
        ({"schedule": {"cron": "61 * * * *"}}, "/schedule/cron"),
        ({"schedule": {"every_seconds": 60, "cron": "* * * * *"}}, "/schedule"),
        ({"streams": [STREAMS[1], STREAMS[1]]}, "/streams/1/destination"),
        ({"streams": [STREAMS[1], STREAMS[1] | {"destination": "other"}]}, "/streams/1/name"),
        (
            {"streams": [{"name": "o", "destination": "o", "mode": "incremental"}]},
            "/streams/0/cursor_field",
        ),
        (
            {"streams": [{"name": "o", "destination": "../o", "mode": "full_refresh"}]},
            "/streams/0/destination",
        ),
        ({"streams": []}, "/streams"),
        ({"state": {"orders": 1}}, "/state"),
    ],
)
async def test_invalid_pipelines_name_the_field(
    client: Client,
    setup: tuple[dict[str, str], str, str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    """Each rule broken is a 400 pointing at the field; nothing is created."""
    headers, org, source, destination = setup
    response = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, destination, **changes), headers=headers
    )
    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    listed = await client.get(f"/v1/orgs/{org}/pipelines", headers=headers)
    assert listed.json()["items"] == []


async def test_data_sources_must_belong_to_the_organization(
    client: Client, setup: tuple[dict[str, str], str, str, str], tmp_path: Path
) -> None:
    """A source of another organization (even the caller's own) is 400 on source_id."""
    headers, org, source, _ = setup
    other = await create_org(client, headers, "Other")
    (tmp_path / "data" / "x").mkdir()
    foreign = await client.post(
        f"/v1/orgs/{other}/data-sources",
        json={"name": "x", "kind": "file", "config": {"path": "x", "format": "csv"}},
        headers=headers,
    )
    response = await client.post(
        f"/v1/orgs/{org}/pipelines",
        json=pipeline(foreign.json()["id"], source),
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "/source_id"


async def test_a_pipeline_may_not_write_a_table_it_reads(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """One data source at both ends: a destination named like a stream is 400; a copy is fine."""
    headers, org, source, _ = setup
    loop = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, source), headers=headers
    )
    assert loop.status_code == 400, loop.text
    assert [e["field"] for e in loop.json()["errors"]] == [
        "/streams/0/destination",
        "/streams/1/destination",
    ]
    copy = [{"name": "orders", "destination": "orders_copy", "mode": "full_refresh"}]
    created = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, source, streams=copy), headers=headers
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"destination_id": "<source>"}, "/streams/0/destination"),
        ({"streams": [STREAMS[1], STREAMS[1] | {"destination": "other"}]}, "/streams/1/name"),
        (
            {"streams": [STREAMS[0], STREAMS[1] | {"destination": "orders"}]},
            "/streams/1/destination",
        ),
    ],
)
async def test_patch_checks_the_streams_against_the_endpoints_it_leaves(
    client: Client,
    setup: tuple[dict[str, str], str, str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    """A PATCH making streams collide, or making the pipeline write what it reads, is 400."""
    headers, org, source, destination = setup
    created = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, destination), headers=headers
    )
    path = f"/v1/orgs/{org}/pipelines/{created.json()['id']}"
    body = {k: source if v == "<source>" else v for k, v in changes.items()}
    response = await client.patch(path, json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get(path, headers=headers)).json() == created.json()


async def test_names_are_unique_per_organization(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """A second pipeline named alike is 409."""
    headers, org, source, destination = setup
    body = pipeline(source, destination)
    await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)
    again = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)
    assert again.status_code == 409
    assert problem_type(again) == "pipeline-name-taken"


async def test_patch_changes_the_definition_and_null_unschedules(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """Fields left out keep their values; schedule null removes the schedule; state is read-only."""
    headers, org, source, destination = setup
    created = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(source, destination), headers=headers
    )
    path = f"/v1/orgs/{org}/pipelines/{created.json()['id']}"
    every = await client.patch(path, json={"schedule": {"every_seconds": 3600}}, headers=headers)
    assert every.json()["schedule"] == {"every_seconds": 3600}
    assert every.json()["next_run_at"] is not None
    off = await client.patch(path, json={"schedule": None, "enabled": False}, headers=headers)
    assert off.json()["schedule"] is None
    assert off.json()["next_run_at"] is None
    assert off.json()["streams"] == created.json()["streams"]
    swapped = await client.patch(
        path, json={"source_id": destination, "destination_id": source}, headers=headers
    )
    assert (swapped.json()["source_id"], swapped.json()["destination_id"]) == (destination, source)
    read_only = await client.patch(path, json={"state": {}}, headers=headers)
    assert read_only.status_code == 400


async def test_a_retried_create_makes_one_pipeline(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """Idempotency-Key: the first answer again, one pipeline."""
    headers, org, source, destination = setup
    keyed = headers | {"Idempotency-Key": "p-1"}
    body = pipeline(source, destination)
    first = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=keyed)
    again = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=keyed)
    assert again.content == first.content
    assert (
        len((await client.get(f"/v1/orgs/{org}/pipelines", headers=headers)).json()["items"]) == 1
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"enabled": 0}, "/enabled"),
        ({"enabled": "false"}, "/enabled"),
        ({"schedule": {"every_seconds": "3600"}}, "/schedule/every_seconds"),
    ],
)
async def test_a_value_of_another_json_type_is_refused_not_converted(
    client: Client,
    setup: tuple[dict[str, str], str, str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    """``0`` is not ``false`` nor ``"3600"`` 3600: the document says boolean and integer, and
    a client that sends otherwise has a bug to hear of (schema fuzzing found them taken)."""
    headers, org, source, destination = setup
    body = pipeline(source, destination, **changes)
    response = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_an_integral_number_with_a_fraction_part_is_an_integer(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """``3600.0`` is an integer to JSON Schema, so the API takes it as one."""
    headers, org, source, destination = setup
    body = pipeline(source, destination, schedule={"every_seconds": 3600.0})
    response = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["schedule"] == {"every_seconds": 3600}


async def test_a_nul_character_is_refused_naming_its_field(
    client: Client, setup: tuple[dict[str, str], str, str, str]
) -> None:
    """PostgreSQL text cannot hold U+0000: a 400 that says which string holds one."""
    headers, org, source, destination = setup
    streams = [{**STREAMS[0], "name": "orders\x00"}]
    body = pipeline(source, destination, streams=streams)
    response = await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["/streams/0/name"]
