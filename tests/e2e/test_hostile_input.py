"""Arbitrary text in each identity field: a clear 4xx or success, never a 500."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import PASSWORD, Client, create_key, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app
from thedata.entrypoints.http.json_body import MAX_JSON_DEPTH, TOO_DEEP

# any code point JSON can carry, NUL and other control characters included
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
HOSTILE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
serial = itertools.count()


def fresh_email() -> str:
    return f"user{next(serial)}@x.io"


def assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@HOSTILE
@given(value=text)
async def test_sign_up_and_sign_in_fields_never_cause_a_server_error(
    client: Client, value: str
) -> None:
    """The text as email, as name and as password (the other fields valid): never a 500."""
    for body in (
        {"email": value, "password": PASSWORD, "name": "Ada"},
        {"email": fresh_email(), "password": PASSWORD, "name": value},
        {"email": fresh_email(), "password": value, "name": "Ada"},
    ):
        assert_answered(await client.post("/v1/auth/register", json=body))
        sign_in = {"email": body["email"], "password": body["password"]}
        assert_answered(await client.post("/v1/auth/token", json=sign_in))


@HOSTILE
@given(value=text)
async def test_organization_member_and_key_fields_never_cause_a_server_error(
    client: Client, value: str
) -> None:
    """The text as organization name, slug, member email and key name: never a 500."""
    headers, _ = await register(client, fresh_email())
    org = (await client.post("/v1/orgs", json={"name": "Acme"}, headers=headers)).json()["id"]
    for path, body in (
        ("/v1/orgs", {"name": value}),
        ("/v1/orgs", {"name": "Acme", "slug": value}),
        (f"/v1/orgs/{org}/members", {"email": value, "role": "viewer"}),
        (f"/v1/orgs/{org}/api-keys", {"name": value, "role": "viewer"}),
    ):
        assert_answered(await client.post(path, json=body, headers=headers))
    assert_answered(await client.patch(f"/v1/orgs/{org}", json={"name": value}, headers=headers))
    assert_answered(await client.patch("/v1/users/me", json={"name": value}, headers=headers))


@HOSTILE
@given(value=text)
async def test_data_source_and_pipeline_fields_never_cause_a_server_error(
    client: Client, value: str
) -> None:
    """The text as data source name, host, database, file path and pipeline names: never a 500."""
    headers, _ = await register(client, fresh_email())
    org = (await client.post("/v1/orgs", json={"name": "Acme"}, headers=headers)).json()["id"]
    sources = f"/v1/orgs/{org}/data-sources"
    postgres = {"host": "db.internal", "database": "d", "user": "u"}
    for body in (
        {"name": value, "kind": "file", "config": {"path": "in", "format": "csv"}},
        {"name": "p", "kind": "postgres", "config": postgres | {"host": value}},
        {"name": "q", "kind": "postgres", "config": postgres | {"database": value}},
        {"name": "r", "kind": "postgres", "config": postgres | {"password": value}},
        {"name": "s", "kind": "file", "config": {"path": value, "format": "jsonl"}},
    ):
        assert_answered(await client.post(sources, json=body, headers=headers))
    source = await client.post(
        sources,
        json={"name": "base", "kind": "file", "config": {"path": "in", "format": "csv"}},
        headers=headers,
    )
    stream = {"name": value, "destination": "t", "mode": "incremental", "cursor_field": value}
    pipeline = {
        "name": value,
        "source_id": source.json()["id"],
        "destination_id": source.json()["id"],
        "streams": [stream],
        "schedule": {"cron": value},
    }
    assert_answered(await client.post(f"/v1/orgs/{org}/pipelines", json=pipeline, headers=headers))


DEEP = 1000


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.fixture
async def roomy_client(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    """A client of the whole app at the default body limit (1 MiB): 1,000-deep objects fit."""
    settings = make_settings(database_url=database_url, data_root=str(tmp_path), **CHEAP_HASHING)
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


def json_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path template) whose handler takes a JSON body."""
    return [
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if "data" in handler.parsed_fn_signature.parameters
        for method in sorted(handler.http_methods)
    ]


async def test_bodies_nested_1000_deep_are_a_400_on_every_json_route(
    roomy_client: Client, tmp_path: Path
) -> None:
    """Nested arrays or objects, as the body or inside a field: a 400 problem, never a 500."""
    client = roomy_client
    headers, user_id = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    (tmp_path / "in").mkdir()
    file = {"name": "in", "kind": "file", "config": {"path": "in", "format": "csv"}}
    source = await client.post(f"/v1/orgs/{org}/data-sources", json=file, headers=headers)
    stream = {"name": "a", "destination": "b", "mode": "full_refresh"}
    body = {"name": "p", "source_id": source.json()["id"], "destination_id": source.json()["id"]}
    created = await client.post(
        f"/v1/orgs/{org}/pipelines", json=body | {"streams": [stream]}, headers=headers
    )
    ids = {
        "org_id": org,
        "user_id": user_id,
        "key_id": (await create_key(client, headers, org, "viewer"))["id"],
        "data_source_id": source.json()["id"],
        "pipeline_id": created.json()["id"],
    }
    routes = json_routes(client.app)
    assert ("PATCH", "/v1/orgs/{org_id:uuid}/data-sources/{data_source_id:uuid}") in routes
    for method, template in routes:
        path = template
        for name, value in ids.items():
            path = path.replace(f"{{{name}:uuid}}", value)
        for deep in (
            nested_arrays(DEEP),
            f'{{"name": {nested_arrays(DEEP)}}}',
            f'{{"name": "n", "config": {nested_objects(DEEP)}}}',
        ):
            response = await client.request(
                method, path, content=deep, headers=headers | {"content-type": "application/json"}
            )
            assert response.status_code == 400, f"{method} {path}: {response.text}"
            assert response.headers["content-type"] == "application/problem+json"


async def test_a_deep_config_in_a_data_source_patch_is_refused_and_changes_nothing(
    roomy_client: Client, tmp_path: Path
) -> None:
    """Past MAX_JSON_DEPTH levels, however far past, PATCH is a 400 and the config stays."""
    client = roomy_client
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    (tmp_path / "in").mkdir()
    file = {"name": "in", "kind": "file", "config": {"path": "in", "format": "csv"}}
    created = await client.post(f"/v1/orgs/{org}/data-sources", json=file, headers=headers)
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
    json_headers = headers | {"content-type": "application/json"}
    for depth in (MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 500, DEEP, 10 * DEEP):
        # the body's own object is one level: the config's nesting makes up the rest
        config = nested_objects(depth - 1)
        response = await client.patch(path, content=f'{{"config": {config}}}', headers=json_headers)
        assert response.status_code == 400, response.text
        refused_for_depth = response.json()["detail"] == TOO_DEEP
        assert refused_for_depth == (depth > MAX_JSON_DEPTH), response.text
    assert (await client.get(path, headers=headers)).json() == created.json()
