"""Organizations and members: who may change what, and the last owner stays."""

from __future__ import annotations

import pytest

from tests.identity import Identity
from thedata.application.idempotency import IdempotencyKeyReused, IdempotentRequest, Replayed
from thedata.application.ports import StoredResponse
from thedata.application.use_cases import NewApiKey, NewMember, NewOrganization
from thedata.domain.access import Role
from thedata.domain.errors import PermissionDenied
from thedata.domain.organizations import (
    AlreadyMember,
    LastOwner,
    MemberNotFound,
    OrganizationNotFound,
    OrganizationWithRole,
    SlugTaken,
)
from thedata.domain.pagination import PageRequest
from thedata.domain.users import NotAUser


async def test_the_only_owner_can_neither_step_down_nor_leave() -> None:
    """Demoting or removing the last owner is refused; with a second owner both work."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    assert ada.user_id is not None
    with pytest.raises(LastOwner):
        await identity.change_role(ada, org, ada.user_id, Role.ADMIN)
    with pytest.raises(LastOwner):
        await identity.remove_member(ada, org, ada.user_id)
    bob = await identity.member(org, ada, "bob@x.io", Role.OWNER)
    await identity.change_role(ada, org, ada.user_id, Role.ADMIN)
    assert bob.user_id is not None
    with pytest.raises(LastOwner):  # bob is now the only owner
        await identity.remove_member(bob, org, bob.user_id)


async def test_admins_manage_members_below_owner_only() -> None:
    """An admin adds and demotes admins and members, but cannot grant, demote or remove an owner."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    admin = await identity.member(org, ada, "admin@x.io", Role.ADMIN)
    carol = await identity.member(org, admin, "carol@x.io", Role.ADMIN)
    assert carol.user_id is not None
    assert ada.user_id is not None
    await identity.change_role(admin, org, carol.user_id, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        await identity.change_role(admin, org, carol.user_id, Role.OWNER)
    with pytest.raises(PermissionDenied):
        await identity.change_role(admin, org, ada.user_id, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        await identity.remove_member(admin, org, ada.user_id)
    await identity.user("dave@x.io")
    with pytest.raises(PermissionDenied):
        await identity.add_member(admin, org, NewMember("dave@x.io", Role.OWNER))


async def test_members_and_viewers_cannot_manage_members_but_may_leave() -> None:
    """Below admin, the only membership change is one's own departure."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    member = await identity.member(org, ada, "m@x.io", Role.MEMBER)
    viewer = await identity.member(org, ada, "v@x.io", Role.VIEWER)
    assert viewer.user_id is not None
    with pytest.raises(PermissionDenied):
        await identity.remove_member(member, org, viewer.user_id)
    with pytest.raises(PermissionDenied):
        await identity.change_role(viewer, org, viewer.user_id, Role.ADMIN)
    await identity.remove_member(viewer, org, viewer.user_id)
    async with identity.uow() as uow:
        assert await uow.memberships.get(org, viewer.user_id) is None


async def test_a_demoted_owner_acts_with_the_role_they_have_now() -> None:
    """Membership changes re-read the actor's role: a principal resolved earlier grants nothing."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    bob = await identity.member(org, ada, "bob@x.io", Role.OWNER)
    assert bob.user_id is not None
    assert ada.user_id is not None
    await identity.change_role(ada, org, bob.user_id, Role.MEMBER)
    with pytest.raises(PermissionDenied):  # bob's principal still says owner
        await identity.change_role(bob, org, ada.user_id, Role.MEMBER)


async def test_adding_needs_an_account_and_is_done_once() -> None:
    """An unknown email is MemberNotFound; adding someone twice is AlreadyMember."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    with pytest.raises(MemberNotFound):
        await identity.add_member(ada, org, NewMember("ghost@x.io", Role.MEMBER))
    await identity.member(org, ada, "bob@x.io", Role.MEMBER)
    with pytest.raises(AlreadyMember):
        await identity.add_member(ada, org, NewMember("BOB@x.io", Role.VIEWER))


async def test_outsiders_cannot_see_an_organization() -> None:
    """A non-member gets OrganizationNotFound, as for an organization that does not exist."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    eve = await identity.user("eve@x.io")
    with pytest.raises(OrganizationNotFound):
        await identity.add_member(eve, org, NewMember("eve@x.io", Role.OWNER))
    with pytest.raises(OrganizationNotFound):
        await identity.create_api_key(eve, org, NewApiKey("mine", Role.OWNER))


async def test_slugs_are_unique_and_derived_ones_step_aside() -> None:
    """An explicit taken slug is SlugTaken; a derived one gets a suffix instead."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    first = await identity.create_organization(ada, NewOrganization("Acme Data"))
    second = await identity.create_organization(ada, NewOrganization("Acme Data"))
    assert isinstance(first, OrganizationWithRole)
    assert isinstance(second, OrganizationWithRole)
    assert first.organization.slug == "acme-data"
    assert second.organization.slug.startswith("acme-data-")
    with pytest.raises(SlugTaken):
        await identity.create_organization(ada, NewOrganization("Other", slug="acme-data"))


async def test_api_keys_cannot_outrank_their_creator_or_act_as_users() -> None:
    """An admin cannot mint an owner key; a key cannot create organizations."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    admin = await identity.member(org, ada, "admin@x.io", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        await identity.create_api_key(admin, org, NewApiKey("too strong", Role.OWNER))
    created = await identity.create_api_key(admin, org, NewApiKey("ci", Role.ADMIN))
    key = await identity.authenticate(created.key)
    with pytest.raises(NotAUser):
        await identity.create_organization(key, NewOrganization("Key's own"))


async def test_an_idempotency_key_replays_the_first_response_and_refuses_another_body() -> None:
    """Same key and request: the stored response, nothing new. Same key, other request: 409."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")

    def render(result: OrganizationWithRole) -> StoredResponse:
        return StoredResponse(201, str(result.organization.id).encode())

    request = IdempotentRequest("key-1", "fingerprint-a", render)
    first = await identity.create_organization(ada, NewOrganization("Acme"), request)
    with pytest.raises(Replayed) as again:
        await identity.create_organization(ada, NewOrganization("Acme"), request)
    assert isinstance(first, OrganizationWithRole)
    assert again.value.response == StoredResponse(201, str(first.organization.id).encode())
    other = IdempotentRequest("key-1", "fingerprint-b", render)
    with pytest.raises(IdempotencyKeyReused):
        await identity.create_organization(ada, NewOrganization("Other"), other)
    async with identity.uow() as uow:
        assert ada.user_id is not None
        page = await uow.organizations.list_for_user(ada.user_id, PageRequest())
    assert len(page.items) == 1
