"""Races identity rules must win on a real PostgreSQL: last owner, idempotency, sign-in limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import pool_on
from tests.identity import PASSWORD, Identity
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.application.idempotency import IdempotentRequest, Replayed
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import StoredResponse
from thedata.application.use_cases import NewOrganization
from thedata.domain.access import Role
from thedata.domain.errors import Conflict, PermissionDenied
from thedata.domain.organizations import OrganizationWithRole
from thedata.domain.pagination import PageRequest
from thedata.domain.tokens import InvalidCredentials, TooManyLoginAttempts

pytestmark = pytest.mark.postgres
ROUNDS = 15


@pytest.fixture
async def identity(migrated_database_url: str) -> AsyncIterator[Identity]:
    """The identity use cases on a pool with room for every racer."""
    async with pool_on(migrated_database_url, max_size=12) as pool:
        yield Identity(lambda: PostgresUnitOfWork(pool))


async def test_two_owners_demoting_each_other_leave_one_owner(identity: Identity) -> None:
    """Of two concurrent mutual demotions exactly one succeeds, in every round."""
    for n in range(ROUNDS):
        ada = await identity.user(f"ada{n}@x.io")
        org, ada = await identity.organization(ada, f"Org {n}")
        bob = await identity.member(org, ada, f"bob{n}@x.io", Role.OWNER)
        assert ada.user_id is not None
        assert bob.user_id is not None
        outcomes = await asyncio.gather(
            identity.change_role(ada, org, bob.user_id, Role.ADMIN),
            identity.change_role(bob, org, ada.user_id, Role.ADMIN),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, Exception)]
        assert len(failures) == 1, outcomes
        assert isinstance(failures[0], Conflict | PermissionDenied)
        async with identity.uow() as uow:
            assert await uow.memberships.count_owners(org) == 1


async def test_two_owners_leaving_at_once_leave_one_owner(identity: Identity) -> None:
    """Both owners walking out together: one may go, the other stays as the last owner."""
    for n in range(ROUNDS):
        ada = await identity.user(f"ada{n}@x.io")
        org, ada = await identity.organization(ada, f"Org {n}")
        bob = await identity.member(org, ada, f"bob{n}@x.io", Role.OWNER)
        assert ada.user_id is not None
        assert bob.user_id is not None
        outcomes = await asyncio.gather(
            identity.remove_member(ada, org, ada.user_id),
            identity.remove_member(bob, org, bob.user_id),
            return_exceptions=True,
        )
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
        async with identity.uow() as uow:
            assert await uow.memberships.count_owners(org) == 1


async def test_concurrent_retries_with_one_idempotency_key_create_once(identity: Identity) -> None:
    """Ten racing requests with one key: one organization; nine replays of the same bytes."""
    ada = await identity.user("ada@x.io")

    def render(result: OrganizationWithRole) -> StoredResponse:
        return StoredResponse(201, str(result.organization.id).encode())

    request = IdempotentRequest("retry-storm", "same-body", render)
    outcomes = await asyncio.gather(
        *(identity.create_organization(ada, NewOrganization("Acme"), request) for _ in range(10)),
        return_exceptions=True,
    )
    created = [o for o in outcomes if isinstance(o, OrganizationWithRole)]
    assert len(created) == 1
    replayed = [o.response for o in outcomes if isinstance(o, Replayed)]
    assert replayed == [render(created[0])] * 9
    assert ada.user_id is not None
    async with identity.uow() as uow:
        page = await uow.organizations.list_for_user(ada.user_id, PageRequest())
    assert [item.organization.id for item in page.items] == [created[0].organization.id]


async def test_concurrent_guesses_cannot_pass_the_limits(identity: Identity) -> None:
    """Racing guesses: exactly the pair limit from one address, the account limit from many.

    Refused guesses count nowhere, so the owner still signs in from elsewhere after the first
    storm; after the second, spread over thirty addresses, the account is closed to every
    client but the one the owner signed in from.
    """
    limited = Identity(
        identity.uow, policy=IdentityPolicy(login_attempt_limit=3, login_account_limit=8)
    )
    await limited.register("ada@x.io", PASSWORD, "Ada")

    async def storm(addresses: list[str]) -> tuple[int, int]:
        outcomes = await asyncio.gather(
            *(limited.sign_in("ada@x.io", "wrong password!", a) for a in addresses),
            return_exceptions=True,
        )
        assert all(isinstance(o, InvalidCredentials | TooManyLoginAttempts) for o in outcomes)
        checked = sum(isinstance(o, InvalidCredentials) for o in outcomes)
        return checked, len(outcomes) - checked

    assert await storm(["203.0.113.9"] * 30) == (3, 27)
    assert await limited.sign_in("ada@x.io", PASSWORD, "198.51.100.7")
    assert await storm([f"10.0.{n}.1" for n in range(30)]) == (8, 22)
    with pytest.raises(TooManyLoginAttempts):
        await limited.sign_in("ada@x.io", PASSWORD, "192.0.2.50")
    assert await limited.sign_in("ada@x.io", PASSWORD, "198.51.100.7")
