"""``/v1/orgs`` through HTTP, with the shared conventions: pagination and idempotency keys."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.api import Client, add_member, bearer, create_key, create_org, problem_type, register


async def test_creating_an_organization_makes_the_caller_its_owner(client: Client) -> None:
    """201 with a derived slug and role owner; an explicit taken slug is 409."""
    headers, _ = await register(client, "ada@x.io")
    response = await client.post("/v1/orgs", json={"name": "Acme Data"}, headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["slug"], body["role"]) == ("Acme Data", "acme-data", "owner")
    fetched = await client.get(f"/v1/orgs/{body['id']}", headers=headers)
    assert fetched.json() == body
    taken = await client.post(
        "/v1/orgs", json={"name": "Other", "slug": "acme-data"}, headers=headers
    )
    assert taken.status_code == 409
    assert problem_type(taken) == "slug-taken"


@pytest.mark.parametrize("slug", ["A", "-acme", "acme-", "ac me", "x" * 64, "äcme"])
async def test_invalid_slugs_are_400(client: Client, slug: str) -> None:
    """A slug must be 3-63 lower-case letters, digits and inner hyphens."""
    headers, _ = await register(client, "ada@x.io")
    response = await client.post("/v1/orgs", json={"name": "Acme", "slug": slug}, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "/slug"


async def test_owners_edit_and_delete_and_others_may_not(client: Client) -> None:
    """An admin's PATCH or DELETE is 403; the owner's works; a deleted organization is 404."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    admin, _ = await add_member(client, owner, org, "admin@x.io", "admin")
    assert (
        await client.patch(f"/v1/orgs/{org}", json={"name": "X"}, headers=admin)
    ).status_code == 403
    assert (await client.delete(f"/v1/orgs/{org}", headers=admin)).status_code == 403
    renamed = await client.patch(
        f"/v1/orgs/{org}", json={"name": "Acme Inc", "slug": "acme-inc"}, headers=owner
    )
    assert (renamed.json()["name"], renamed.json()["slug"]) == ("Acme Inc", "acme-inc")
    key = await create_key(client, owner, org, "viewer")
    assert (await client.delete(f"/v1/orgs/{org}", headers=owner)).status_code == 204
    assert (await client.get(f"/v1/orgs/{org}", headers=owner)).status_code == 404
    assert (await client.get(f"/v1/orgs/{org}", headers=admin)).status_code == 404
    # what belonged to it went with it: its key no longer authenticates
    assert (await client.get("/v1/orgs", headers=bearer(key["key"]))).status_code == 401


async def test_pages_walk_every_organization_once(client: Client) -> None:
    """limit=2 over five organizations: three pages in creation order, then no cursor."""
    headers, _ = await register(client, "ada@x.io")
    created = [await create_org(client, headers, f"Org {n}") for n in range(5)]
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    for _ in range(3):
        page = (await client.get("/v1/orgs", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        params["cursor"] = page["next_cursor"]
    assert page["next_cursor"] is None
    assert seen == created


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "cursor"),
        ({"cursor": "not base64 !"}, "cursor"),
    ],
)
async def test_bad_page_parameters_are_400(
    client: Client, params: dict[str, str | int], field: str
) -> None:
    """Out-of-range limits and cursors this API did not issue are refused, naming the parameter."""
    headers, _ = await register(client, "ada@x.io")
    response = await client.get("/v1/orgs", params=params, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


async def test_a_tampered_cursor_is_400(client: Client) -> None:
    """Changing one character of a real cursor is detected."""
    headers, _ = await register(client, "ada@x.io")
    for n in range(2):
        await create_org(client, headers, f"Org {n}")
    cursor = (await client.get("/v1/orgs?limit=1", headers=headers)).json()["next_cursor"]
    tampered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    response = await client.get("/v1/orgs", params={"cursor": tampered}, headers=headers)
    assert response.status_code == 400


async def test_an_idempotency_key_replays_the_first_response(client: Client) -> None:
    """Same key and body: the first response again and one organization. Another body: 409."""
    headers, _ = await register(client, "ada@x.io")
    keyed = headers | {"Idempotency-Key": "create-acme-1"}
    first = await client.post("/v1/orgs", json={"name": "Acme"}, headers=keyed)
    # the same JSON, spelled differently, is the same request
    again = await client.post(
        "/v1/orgs",
        content=b'{ "name" : "Acme" }',
        headers=keyed | {"Content-Type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/orgs", json={"name": "Other"}, headers=keyed)
    assert other.status_code == 409
    assert problem_type(other) == "idempotency-key-reused"
    listed = (await client.get("/v1/orgs", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [first.json()["id"]]


async def test_concurrent_retries_with_one_key_create_once(client: Client) -> None:
    """Five identical requests at once: one organization, five identical answers."""
    headers, _ = await register(client, "ada@x.io")
    keyed = headers | {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/v1/orgs", json={"name": "Acme"}, headers=keyed) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert len((await client.get("/v1/orgs", headers=headers)).json()["items"]) == 1


async def test_a_failed_creation_leaves_the_key_free(client: Client) -> None:
    """A 409 is not stored: the same key may be used once the request is fixed."""
    headers, _ = await register(client, "ada@x.io")
    await create_org(client, headers, "Acme")
    keyed = headers | {"Idempotency-Key": "k"}
    taken = await client.post("/v1/orgs", json={"name": "X", "slug": "acme"}, headers=keyed)
    assert taken.status_code == 409
    fixed = await client.post("/v1/orgs", json={"name": "X", "slug": "acme"}, headers=keyed)
    assert fixed.status_code == 409
    assert problem_type(fixed) == "slug-taken"


@pytest.mark.parametrize("key", ["", "x" * 256, "with space"])
async def test_malformed_idempotency_keys_are_400(client: Client, key: str) -> None:
    """Empty, overlong or non-printable keys are refused, and nothing is created."""
    headers, _ = await register(client, "ada@x.io")
    response = await client.post(
        "/v1/orgs", json={"name": "Acme"}, headers=headers | {"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert (await client.get("/v1/orgs", headers=headers)).json()["items"] == []


async def test_an_api_key_sees_only_its_organization(client: Client) -> None:
    """GET /v1/orgs with a key lists the key's organization and its role; it cannot create one."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers, "Acme")
    await create_org(client, headers, "Other")
    key = bearer((await create_key(client, headers, org, "member"))["key"])
    items = (await client.get("/v1/orgs", headers=key)).json()["items"]
    assert [(i["id"], i["role"]) for i in items] == [(org, "member")]
    assert (await client.post("/v1/orgs", json={"name": "Mine"}, headers=key)).status_code == 403


async def test_renaming_to_a_taken_or_invalid_slug_changes_nothing(client: Client) -> None:
    """PATCH with another organization's slug is 409, a malformed one 400; the name stays too."""
    headers, _ = await register(client, "ada@x.io")
    await create_org(client, headers, "Acme")
    org = await create_org(client, headers, "Beta")
    taken = await client.patch(
        f"/v1/orgs/{org}", json={"name": "Renamed", "slug": "acme"}, headers=headers
    )
    assert taken.status_code == 409
    invalid = await client.patch(f"/v1/orgs/{org}", json={"slug": "No!"}, headers=headers)
    assert invalid.status_code == 400
    unchanged = (await client.get(f"/v1/orgs/{org}", headers=headers)).json()
    assert (unchanged["name"], unchanged["slug"]) == ("Beta", "beta")
