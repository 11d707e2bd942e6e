"""An API key acts only while its creator still stands behind it: the rules, on memory adapters."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from tests.identity import Identity
from thedata.application.use_cases import (
    CreatedApiKey,
    ListApiKeys,
    NewApiKey,
    NewMember,
    RevokeApiKey,
)
from thedata.domain.access import Role
from thedata.domain.api_keys import KeyStatus
from thedata.domain.errors import PermissionDenied, Unauthenticated
from thedata.domain.organizations import OrganizationNotFound
from thedata.domain.pagination import PageRequest
from thedata.domain.principal import Principal


async def key_of(identity: Identity, creator: Principal, org: UUID, role: Role) -> str:
    """A new key of ``org`` with ``role`` made by ``creator``: the key itself."""
    created = await identity.create_api_key(creator, org, NewApiKey(f"{role.value} key", role))
    assert isinstance(created, CreatedApiKey)
    return created.key


async def admin_bob(identity: Identity) -> tuple[UUID, Principal, Principal]:
    """An organization, its owner Ada and its admin Bob, each as a new request sees them."""
    ada = await identity.user("ada@x.io")
    org, ada = await identity.organization(ada)
    bob = await identity.member(org, ada, "bob@x.io", Role.ADMIN)
    return org, ada, bob


async def test_a_removed_creators_key_stops_working() -> None:
    """Once Bob is no longer a member, his admin key authenticates no more."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    key = await key_of(identity, bob, org, Role.ADMIN)
    assert (await identity.authenticate(key)).role_in(org) is Role.ADMIN
    assert bob.user_id is not None
    await identity.remove_member(ada, org, bob.user_id)
    with pytest.raises(Unauthenticated):
        await identity.authenticate(key)


async def test_a_demoted_creators_stronger_keys_pause_and_weaker_ones_keep_working() -> None:
    """Bob demoted to member: his admin key stops, his viewer key works; promoted back, both do."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    admin_key = await key_of(identity, bob, org, Role.ADMIN)
    viewer_key = await key_of(identity, bob, org, Role.VIEWER)
    assert bob.user_id is not None
    await identity.change_role(ada, org, bob.user_id, Role.MEMBER)
    with pytest.raises(Unauthenticated):
        await identity.authenticate(admin_key)
    assert (await identity.authenticate(viewer_key)).role_in(org) is Role.VIEWER
    await identity.change_role(ada, org, bob.user_id, Role.ADMIN)
    assert (await identity.authenticate(admin_key)).role_in(org) is Role.ADMIN


async def test_a_re_added_creators_old_keys_stay_dead() -> None:
    """Removing Bob ends his keys for good: adding him back is a new membership, not a pardon."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    old_key = await key_of(identity, bob, org, Role.ADMIN)
    assert bob.user_id is not None
    await identity.remove_member(ada, org, bob.user_id)
    identity.clock.advance(timedelta(seconds=1))
    await identity.add_member(ada, org, NewMember("bob@x.io", Role.ADMIN))
    bob = await identity.now(bob)
    with pytest.raises(Unauthenticated):
        await identity.authenticate(old_key)
    new_key = await key_of(identity, bob, org, Role.ADMIN)
    assert (await identity.authenticate(new_key)).role_in(org) is Role.ADMIN


async def test_a_key_made_by_a_key_answers_to_the_person_behind_it() -> None:
    """A key minted by Bob's key is Bob's: it dies with his membership, it does not outlive it."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    bobs_key = await identity.authenticate(await key_of(identity, bob, org, Role.ADMIN))
    minted = await identity.create_api_key(bobs_key, org, NewApiKey("minted", Role.VIEWER))
    assert isinstance(minted, CreatedApiKey)
    assert minted.record.created_by == bob.user_id
    assert bob.user_id is not None
    await identity.remove_member(ada, org, bob.user_id)
    with pytest.raises(Unauthenticated):
        await identity.authenticate(minted.key)


async def test_an_admin_cannot_revoke_a_key_it_could_not_create() -> None:
    """Revoking an owner key needs an owner (403 for an admin); an admin revokes an admin key."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    revoke = RevokeApiKey(identity.uow)
    owner_key = await identity.create_api_key(ada, org, NewApiKey("deploy", Role.OWNER))
    admin_key = await identity.create_api_key(ada, org, NewApiKey("ci", Role.ADMIN))
    assert isinstance(owner_key, CreatedApiKey)
    assert isinstance(admin_key, CreatedApiKey)
    with pytest.raises(PermissionDenied):
        await revoke(bob, org, owner_key.record.id)
    assert (await identity.authenticate(owner_key.key)).role_in(org) is Role.OWNER
    admin_principal = await identity.authenticate(admin_key.key)
    with pytest.raises(PermissionDenied):
        await revoke(admin_principal, org, owner_key.record.id)
    await revoke(bob, org, admin_key.record.id)
    await revoke(ada, org, owner_key.record.id)
    for key in (owner_key.key, admin_key.key):
        with pytest.raises(Unauthenticated):
            await identity.authenticate(key)


async def test_a_key_list_says_who_made_each_key_and_whether_it_works() -> None:
    """Each listed key names its creator and its status: active, expired, or why it stopped."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    carol = await identity.member(org, ada, "carol@x.io", Role.ADMIN)
    expiring = NewApiKey("short", Role.VIEWER, identity.clock.now() + timedelta(hours=1))
    await identity.create_api_key(ada, org, expiring)
    await key_of(identity, bob, org, Role.ADMIN)
    await key_of(identity, carol, org, Role.ADMIN)
    await key_of(identity, carol, org, Role.MEMBER)
    assert bob.user_id is not None
    assert carol.user_id is not None
    await identity.remove_member(ada, org, bob.user_id)
    await identity.change_role(ada, org, carol.user_id, Role.MEMBER)
    identity.clock.advance(timedelta(hours=1))
    page = await ListApiKeys(identity.uow, identity.clock)(ada, org, PageRequest())
    listed = [(item.record.created_by, item.record.role, item.status) for item in page.items]
    assert listed == [
        (ada.user_id, Role.VIEWER, KeyStatus.EXPIRED),
        (bob.user_id, Role.ADMIN, KeyStatus.CREATOR_LEFT),
        (carol.user_id, Role.ADMIN, KeyStatus.CREATOR_DEMOTED),
        (carol.user_id, Role.MEMBER, KeyStatus.ACTIVE),
    ]
    creators = [item.record.creator for item in page.items]
    assert [(c.email, c.name) if c else None for c in creators] == [
        ("ada@x.io", "ada"),
        ("bob@x.io", "bob"),
        ("carol@x.io", "carol"),
        ("carol@x.io", "carol"),
    ]


async def test_a_creator_removed_while_creating_gets_no_key() -> None:
    """A caller whose membership ended before the key is stored is refused, as an outsider."""
    identity = Identity.in_memory()
    org, ada, bob = await admin_bob(identity)
    assert bob.user_id is not None
    await identity.remove_member(ada, org, bob.user_id)
    with pytest.raises(OrganizationNotFound):
        await identity.create_api_key(bob, org, NewApiKey("late", Role.VIEWER))
