"""``/v1/auth`` and ``/v1/users/me`` through HTTP: each success and each error code."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import PASSWORD, Client, bearer, create_key, create_org, problem_type, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app
from thedata.entrypoints.http.controllers.auth import _warn_of_an_unused_proxy_header


async def test_sign_up_answers_the_user_and_a_working_token(client: Client) -> None:
    """201 with the normalized user and a bearer token that authenticates at once."""
    response = await client.post(
        "/v1/auth/register", json={"email": " Ada@X.io", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ada@x.io"
    assert body["token_type"] == "bearer"
    assert body["access_token"].startswith("tdt_")
    assert body["expires_at"].endswith("Z")
    assert response.headers["cache-control"] == "no-store"
    me = await client.get("/v1/users/me", headers=bearer(body["access_token"]))
    assert me.json() | {"memberships": None} == body["user"] | {"memberships": None}


async def test_an_email_is_taken_whatever_its_case(client: Client) -> None:
    """A second sign-up with the same email in other letters is 409."""
    await register(client, "ada@x.io")
    response = await client.post(
        "/v1/auth/register", json={"email": "ADA@x.io", "password": PASSWORD, "name": "A"}
    )
    assert response.status_code == 409
    assert problem_type(response) == "email-taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ada@x.io", "password": "short", "name": "Ada"}, "/password"),
        ({"email": "not an email", "password": PASSWORD, "name": "Ada"}, "/email"),
        ({"email": "ada@x.io", "password": PASSWORD, "name": ""}, "/name"),
        ({"email": "ada@x.io", "password": PASSWORD}, "/name"),
        ({"email": "ada@x.io", "password": PASSWORD, "name": "A", "admin": True}, "/admin"),
    ],
)
async def test_invalid_sign_ups_name_the_field(
    client: Client, body: dict[str, object], field: str
) -> None:
    """Each invalid or unknown field is a 400 whose errors point at it; nothing is created."""
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    retry = await client.post(
        "/v1/auth/register", json={"email": "ada@x.io", "password": PASSWORD, "name": "Ada"}
    )
    assert retry.status_code == 201


@pytest.fixture
async def closed_client(database_url: str) -> AsyncIterator[Client]:
    """The app with sign-up disabled."""
    settings = make_settings(database_url=database_url, allow_signup=False, **CHEAP_HASHING)
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


async def test_sign_up_can_be_disabled(closed_client: Client) -> None:
    """With THEDATA_ALLOW_SIGNUP=false registering is 403."""
    response = await closed_client.post(
        "/v1/auth/register", json={"email": "ada@x.io", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 403
    assert problem_type(response) == "signup-disabled"


async def test_sign_in_gives_a_token_and_wrong_credentials_are_401(client: Client) -> None:
    """Right password: a token. Wrong password or unknown email: the same 401 problem."""
    await register(client, "ada@x.io")
    ok = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    assert ok.status_code == 200
    assert (await client.get("/v1/users/me", headers=bearer(ok.json()["access_token"]))).is_success
    wrong = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": "x" * 12})
    unknown = await client.post("/v1/auth/token", json={"email": "bob@x.io", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == unknown.json()["type"]


async def test_repeated_failures_are_429_with_retry_after(client: Client) -> None:
    """After 10 failures within the window, even the right password waits, told how long."""
    await register(client, "ada@x.io")
    for _ in range(10):
        response = await client.post(
            "/v1/auth/token", json={"email": "ada@x.io", "password": "wrong password"}
        )
        assert response.status_code == 401
    blocked = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    assert problem_type(blocked) == "too-many-login-attempts"


async def test_logout_revokes_the_token_at_once(client: Client) -> None:
    """204, and the same token is 401 on the very next request; other sessions keep working."""
    headers, _ = await register(client, "ada@x.io")
    other = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    assert (await client.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/v1/users/me", headers=headers)).status_code == 401
    other_headers = bearer(other.json()["access_token"])
    assert (await client.get("/v1/users/me", headers=other_headers)).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic YWRhOnB3", "Bearer tdt_garbage", "Bearer " + "tdt_" + "A" * 49],
)
async def test_missing_or_bad_credentials_are_401_with_a_challenge(
    client: Client, authorization: str | None
) -> None:
    """No header, another scheme, a malformed or an unknown token: 401 and WWW-Authenticate."""
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/v1/users/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="thedata"'


async def test_credentials_in_the_query_string_are_refused(client: Client) -> None:
    """A token in the URL is 400 even alongside a valid header: URLs end up in logs."""
    headers, _ = await register(client, "ada@x.io")
    token = headers["Authorization"].removeprefix("Bearer ")
    for query in ({"access_token": token}, {"q": token}):
        response = await client.get("/v1/users/me", params=query, headers=headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == next(iter(query))


async def test_api_keys_have_no_user_account(client: Client) -> None:
    """/v1/users/me with an organization's API key is 403: the key is not a person."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    key = await create_key(client, headers, org, "admin")
    response = await client.get("/v1/users/me", headers=bearer(key["key"]))
    assert response.status_code == 403
    assert problem_type(response) == "not-a-user"


async def test_me_lists_memberships(client: Client) -> None:
    """The caller's organizations appear with the caller's role."""
    headers, user_id = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    me = (await client.get("/v1/users/me", headers=headers)).json()
    assert me["id"] == user_id
    assert me["memberships"] == [{"organization_id": org, "role": "owner"}]


async def test_renaming_and_changing_the_password(client: Client) -> None:
    """A new password needs the current one, works at once and signs out other sessions."""
    headers, _ = await register(client, "ada@x.io")
    other = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    renamed = await client.patch("/v1/users/me", json={"name": "Ada L."}, headers=headers)
    assert renamed.json()["name"] == "Ada L."
    new = "an even better passphrase"
    missing = await client.patch("/v1/users/me", json={"password": new}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "/current_password"
    wrong = await client.patch(
        "/v1/users/me", json={"password": new, "current_password": "x" * 12}, headers=headers
    )
    assert wrong.status_code == 400
    changed = await client.patch(
        "/v1/users/me", json={"password": new, "current_password": PASSWORD}, headers=headers
    )
    assert changed.status_code == 200
    assert (await client.get("/v1/users/me", headers=headers)).status_code == 200
    other_headers = bearer(other.json()["access_token"])
    assert (await client.get("/v1/users/me", headers=other_headers)).status_code == 401
    old = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    assert old.status_code == 401
    assert (
        await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": new})
    ).status_code == 200


async def test_null_is_not_a_way_to_leave_a_field_unchanged(client: Client) -> None:
    """PATCH fields are left out to keep them; an explicit null is invalid input."""
    headers, _ = await register(client, "ada@x.io")
    response = await client.patch("/v1/users/me", json={"name": None}, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "/name"


@pytest.fixture
async def proxied_client(database_url: str) -> AsyncIterator[Client]:
    """The app behind a trusted proxy that names each client in X-Forwarded-For."""
    settings = make_settings(
        database_url=database_url, client_address_header="X-Forwarded-For", **CHEAP_HASHING
    )
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


def sign_in(client: Client, email: str, password: str, address: str) -> Any:
    """``POST /v1/auth/token`` as the client at ``address``."""
    return client.post(
        "/v1/auth/token",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def test_a_locked_out_attacker_leaves_the_victim_and_the_colleagues_alone(
    proxied_client: Client,
) -> None:
    """Guessing Ada's password locks the guesser's address out of Ada's account only."""
    client = proxied_client
    await register(client, "ada@x.io")
    await register(client, "bob@x.io")
    for _ in range(10):
        guess = await sign_in(client, "ada@x.io", "wrong password", "203.0.113.9")
        assert guess.status_code == 401
    for _ in range(20):
        assert (await sign_in(client, "ada@x.io", PASSWORD, "203.0.113.9")).status_code == 429
    assert (await sign_in(client, "ada@x.io", PASSWORD, "198.51.100.7")).status_code == 200
    assert (await sign_in(client, "bob@x.io", PASSWORD, "203.0.113.9")).status_code == 200


async def test_wrong_current_passwords_are_429_after_the_limit(proxied_client: Client) -> None:
    """A stolen session cannot guess the current password: 10 wrong ones, then 429."""
    client = proxied_client
    headers, _ = await register(client, "ada@x.io")
    here = headers | {"X-Forwarded-For": "203.0.113.9"}
    body = {"password": "an even better passphrase", "current_password": "x" * 12}
    for _ in range(10):
        assert (await client.patch("/v1/users/me", json=body, headers=here)).status_code == 400
    right = body | {"current_password": PASSWORD}
    blocked = await client.patch("/v1/users/me", json=right, headers=here)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    assert problem_type(blocked) == "too-many-login-attempts"


async def test_a_forwarded_sign_in_without_a_client_address_header_is_warned_of_once(
    client: Client, log_lines: io.StringIO
) -> None:
    """Behind a proxy with THEDATA_CLIENT_ADDRESS_HEADER unset every client counts as the
    proxy: the operator is told, once per process, rather than finding everyone locked out."""
    _warn_of_an_unused_proxy_header.cache_clear()  # as in a process that just started
    await register(client, "ada@x.io")
    for n in range(3):
        refused = await sign_in(client, "ada@x.io", "wrong password", f"203.0.113.{n}")
        assert refused.status_code == 401
    warnings = [
        json.loads(line)
        for line in log_lines.getvalue().splitlines()
        if "THEDATA_CLIENT_ADDRESS_HEADER is unset" in line
    ]
    assert [w["level"] for w in warnings] == ["warning"]
