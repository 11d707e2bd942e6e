"""Arbitrary text in each identity field: a clear 4xx or success, never a 500."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.api import PASSWORD, Client, register

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
