"""``/v1/orgs/{org_id}/members`` through HTTP."""

from __future__ import annotations

from tests.e2e.api import Client, add_member, create_org, problem_type, register


async def test_members_are_added_listed_changed_and_removed(client: Client) -> None:
    """The whole life of a membership, as an owner drives it."""
    owner, owner_id = await register(client, "ada@x.io", "Ada")
    org = await create_org(client, owner)
    _, bob = await add_member(client, owner, org, "bob@x.io", "viewer")
    listed = (await client.get(f"/v1/orgs/{org}/members", headers=owner)).json()
    assert [(m["user_id"], m["email"], m["role"]) for m in listed["items"]] == [
        (owner_id, "ada@x.io", "owner"),
        (bob, "bob@x.io", "viewer"),
    ]
    changed = await client.patch(
        f"/v1/orgs/{org}/members/{bob}", json={"role": "admin"}, headers=owner
    )
    assert changed.json()["role"] == "admin"
    assert (await client.delete(f"/v1/orgs/{org}/members/{bob}", headers=owner)).status_code == 204
    listed = (await client.get(f"/v1/orgs/{org}/members", headers=owner)).json()
    assert [m["user_id"] for m in listed["items"]] == [owner_id]


async def test_adding_needs_a_registered_user_once(client: Client) -> None:
    """An email without an account is 404; a second add is 409; a bad role is 400."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    ghost = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "ghost@x.io", "role": "member"}, headers=owner
    )
    assert ghost.status_code == 404
    await add_member(client, owner, org, "bob@x.io", "member")
    again = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "bob@x.io", "role": "viewer"}, headers=owner
    )
    assert again.status_code == 409
    bad = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "bob@x.io", "role": "root"}, headers=owner
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "/role"


async def test_roles_below_admin_cannot_manage_members(client: Client) -> None:
    """A member's add, change or remove is 403; a viewer may still read the list."""
    owner, owner_id = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    member, _ = await add_member(client, owner, org, "m@x.io", "member")
    viewer, viewer_id = await add_member(client, owner, org, "v@x.io", "viewer")
    await register(client, "new@x.io")
    add = await client.post(
        f"/v1/orgs/{org}/members", json={"email": "new@x.io", "role": "viewer"}, headers=member
    )
    assert add.status_code == 403
    change = await client.patch(
        f"/v1/orgs/{org}/members/{viewer_id}", json={"role": "admin"}, headers=member
    )
    assert change.status_code == 403
    remove = await client.delete(f"/v1/orgs/{org}/members/{owner_id}", headers=member)
    assert remove.status_code == 403
    assert (await client.get(f"/v1/orgs/{org}/members", headers=viewer)).status_code == 200


async def test_only_owners_grant_owner(client: Client) -> None:
    """An admin promoting to owner is 403; the owner doing it works."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    admin, _ = await add_member(client, owner, org, "admin@x.io", "admin")
    _, bob = await add_member(client, owner, org, "bob@x.io", "member")
    by_admin = await client.patch(
        f"/v1/orgs/{org}/members/{bob}", json={"role": "owner"}, headers=admin
    )
    assert by_admin.status_code == 403
    by_owner = await client.patch(
        f"/v1/orgs/{org}/members/{bob}", json={"role": "owner"}, headers=owner
    )
    assert by_owner.json()["role"] == "owner"


async def test_the_last_owner_stays(client: Client) -> None:
    """Demoting or removing the only owner is 409; leaving as a viewer is fine."""
    owner, owner_id = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    viewer, viewer_id = await add_member(client, owner, org, "v@x.io", "viewer")
    demote = await client.patch(
        f"/v1/orgs/{org}/members/{owner_id}", json={"role": "admin"}, headers=owner
    )
    assert demote.status_code == 409
    assert problem_type(demote) == "last-owner"
    leave = await client.delete(f"/v1/orgs/{org}/members/{owner_id}", headers=owner)
    assert leave.status_code == 409
    assert (
        await client.delete(f"/v1/orgs/{org}/members/{viewer_id}", headers=viewer)
    ).status_code == 204
    assert (await client.get(f"/v1/orgs/{org}", headers=viewer)).status_code == 404


async def test_unknown_members_are_404(client: Client) -> None:
    """Changing or removing someone who is not a member is 404."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    _, stranger = await register(client, "s@x.io")
    patch = await client.patch(
        f"/v1/orgs/{org}/members/{stranger}", json={"role": "viewer"}, headers=owner
    )
    assert patch.status_code == 404
    assert (
        await client.delete(f"/v1/orgs/{org}/members/{stranger}", headers=owner)
    ).status_code == 404
