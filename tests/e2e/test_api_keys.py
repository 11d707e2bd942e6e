"""``/v1/orgs/{org_id}/api-keys`` through HTTP."""

from __future__ import annotations

import re

from tests.e2e.api import Client, add_member, bearer, create_key, create_org, problem_type, register


async def test_a_key_is_shown_once_and_authenticates_with_its_role(client: Client) -> None:
    """The key comes only in the 201; listings show its prefix; it acts as its role."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    created = await create_key(client, owner, org, "viewer")
    assert re.fullmatch(r"tdk_[0-9A-Za-z]{11}_[0-9A-Za-z]{49}", created["key"])
    assert created["key"].startswith(created["prefix"] + "_")
    listed = (await client.get(f"/v1/orgs/{org}/api-keys", headers=owner)).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert created["key"] not in str(listed)
    key = bearer(created["key"])
    assert (await client.get(f"/v1/orgs/{org}/members", headers=key)).status_code == 200
    add = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "x@x.io", "role": "viewer"}, headers=key
    )
    assert add.status_code == 403
    used = (await client.get(f"/v1/orgs/{org}/api-keys", headers=owner)).json()["items"][0]
    assert used["last_used_at"] is not None


async def test_a_revoked_key_stops_working_at_once(client: Client) -> None:
    """DELETE is 204, the next request with the key is 401, and a second DELETE is 404."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    created = await create_key(client, owner, org, "admin")
    key = bearer(created["key"])
    assert (await client.get(f"/v1/orgs/{org}", headers=key)).status_code == 200
    path = f"/v1/orgs/{org}/api-keys/{created['id']}"
    assert (await client.delete(path, headers=owner)).status_code == 204
    assert (await client.get(f"/v1/orgs/{org}", headers=key)).status_code == 401
    assert (await client.delete(path, headers=owner)).status_code == 404


async def test_key_management_needs_an_admin_and_a_role_no_higher_than_yours(
    client: Client,
) -> None:
    """Members cannot list or create keys (403); admins cannot create owner keys (403)."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    member, _ = await add_member(client, owner, org, "m@x.io", "member")
    admin, _ = await add_member(client, owner, org, "a@x.io", "admin")
    assert (await client.get(f"/v1/orgs/{org}/api-keys", headers=member)).status_code == 403
    body = {"name": "k", "role": "viewer"}
    assert (
        await client.post(f"/v1/orgs/{org}/api-keys", json=body, headers=member)
    ).status_code == 403
    too_strong = await client.post(
        f"/v1/orgs/{org}/api-keys", json={"name": "k", "role": "owner"}, headers=admin
    )
    assert too_strong.status_code == 403
    assert problem_type(too_strong) == "permission-denied"


async def test_expiry_must_be_a_future_instant_with_a_time_zone(client: Client) -> None:
    """A past expiry or one without an offset is 400 on /expires_at."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    for expires_at in ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00", "tomorrow"]:
        response = await client.post(
            f"/v1/orgs/{org}/api-keys",
            json={"name": "k", "role": "viewer", "expires_at": expires_at},
            headers=owner,
        )
        assert response.status_code == 400, expires_at
        assert response.json()["errors"][0]["field"] == "/expires_at"
    ok = await client.post(
        f"/v1/orgs/{org}/api-keys",
        json={"name": "k", "role": "viewer", "expires_at": "2999-01-01T00:00:00+02:00"},
        headers=owner,
    )
    assert ok.json()["expires_at"] == "2998-12-31T22:00:00Z"


async def test_a_replayed_creation_does_not_show_the_key_again(client: Client) -> None:
    """The key is never stored, not even for idempotency: a replay has the record, key null."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    keyed = owner | {"Idempotency-Key": "key-1"}
    body = {"name": "ci", "role": "member"}
    first = await client.post(f"/v1/orgs/{org}/api-keys", json=body, headers=keyed)
    replay = await client.post(f"/v1/orgs/{org}/api-keys", json=body, headers=keyed)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json() | {"key": None}
    listed = (await client.get(f"/v1/orgs/{org}/api-keys", headers=owner)).json()["items"]
    assert len(listed) == 1


async def test_a_removed_admins_key_stops_and_cannot_bring_its_creator_back(
    client: Client,
) -> None:
    """Bob's admin key is 401 once Bob is removed, so it cannot re-add him as an admin."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    bob, bob_id = await add_member(client, owner, org, "bob@x.io", "admin")
    key = bearer((await create_key(client, bob, org, "admin"))["key"])
    assert (await client.get(f"/v1/orgs/{org}", headers=key)).status_code == 200
    removed = await client.delete(f"/v1/orgs/{org}/members/{bob_id}", headers=owner)
    assert removed.status_code == 204
    assert (await client.get(f"/v1/orgs/{org}", headers=key)).status_code == 401
    back = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "bob@x.io", "role": "admin"}, headers=key
    )
    assert back.status_code == 401
    members = (await client.get(f"/v1/orgs/{org}/members", headers=owner)).json()["items"]
    assert [m["email"] for m in members] == ["ada@x.io"]


async def test_a_key_list_names_each_keys_creator_and_status(client: Client) -> None:
    """created_by gives the creator's id, email and name; status says why a key stopped."""
    owner, owner_id = await register(client, "ada@x.io", "Ada")
    org = await create_org(client, owner)
    bob, bob_id = await add_member(client, owner, org, "bob@x.io", "admin")
    created = await create_key(client, bob, org, "admin")
    assert created["created_by"] == {"user_id": bob_id, "email": "bob@x.io", "name": "Someone"}
    assert created["status"] == "active"
    await create_key(client, owner, org, "viewer")
    await client.delete(f"/v1/orgs/{org}/members/{bob_id}", headers=owner)
    listed = (await client.get(f"/v1/orgs/{org}/api-keys", headers=owner)).json()["items"]
    assert [(k["created_by"]["user_id"], k["status"]) for k in listed] == [
        (bob_id, "creator_left"),
        (owner_id, "active"),
    ]
    assert listed[1]["created_by"]["name"] == "Ada"


async def test_an_admin_cannot_revoke_an_owner_key(client: Client) -> None:
    """An admin's DELETE of an owner key is 403 and the key keeps working; an owner's is 204."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    admin, _ = await add_member(client, owner, org, "a@x.io", "admin")
    created = await create_key(client, owner, org, "owner")
    path = f"/v1/orgs/{org}/api-keys/{created['id']}"
    refused = await client.delete(path, headers=admin)
    assert refused.status_code == 403
    assert problem_type(refused) == "permission-denied"
    assert (await client.get(f"/v1/orgs/{org}", headers=bearer(created["key"]))).status_code == 200
    assert (await client.delete(path, headers=owner)).status_code == 204
