"""One contract for the identity repositories, run on the in-memory and the Postgres adapters."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest
from attrs import evolve

from tests.conftest import pool_on
from tests.identity import T0
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.ports import StoredResponse, UnitOfWork
from thedata.domain.access import Role
from thedata.domain.api_keys import ApiKey, KeyCreator, KeyStatus
from thedata.domain.organizations import Membership, Organization, SlugTaken
from thedata.domain.pagination import PageRequest
from thedata.domain.tokens import AccessToken
from thedata.domain.users import EmailTaken, User

ids = UuidV7IdFactory()
HOUR = timedelta(hours=1)


def a_user(email: str = "ada@x.io") -> User:
    return User(ids.new_id(), email, "Ada", "$argon2id$fake", T0, T0)


def an_organization(slug: str = "acme") -> Organization:
    return Organization(ids.new_id(), "Acme", slug, T0, T0)


def a_key(organization_id: UUID, public_id: str = "pub1") -> ApiKey:
    return ApiKey(
        ids.new_id(), organization_id, "ci", Role.MEMBER, public_id, b"h" * 32, None, T0, None, None
    )


class IdentityRepositoriesContract(ABC):
    """What every adapter's identity repositories promise; subclasses supply the store."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A fresh unit of work on an empty store."""

    @abstractmethod
    async def login_attempt_keys(self) -> set[str]:
        """The keys of the committed login attempt rows, read from the store itself."""

    async def given(
        self,
        *users: User,
        organizations: tuple[Organization, ...] = (),
        memberships: tuple[Membership, ...] = (),
    ) -> None:
        """Commit the rows a test starts from."""
        async with self.new_uow() as uow:
            for user in users:
                await uow.users.add(user)
            for organization in organizations:
                await uow.organizations.add(organization)
            for membership in memberships:
                await uow.memberships.add(membership)
            await uow.commit()

    async def test_users_are_found_by_id_and_email_and_unique_by_email(self) -> None:
        """A stored user comes back whole; a second account with the same email is EmailTaken."""
        user = a_user()
        await self.given(user)
        async with self.new_uow() as uow:
            assert await uow.users.get(user.id) == user
            assert await uow.users.get_by_email("ada@x.io") == user
            assert await uow.users.get_by_email("bob@x.io") is None
            with pytest.raises(EmailTaken):
                await uow.users.add(a_user())

    async def test_a_user_changes_only_through_update(self) -> None:
        """Editing a returned entity changes nothing until ``update`` is called."""
        user = a_user()
        await self.given(user)
        async with self.new_uow() as uow:
            loaded = await uow.users.get(user.id)
            assert loaded is not None
            loaded.name = "Changed, not saved"
            assert await uow.users.get(user.id) == user
            await uow.users.update(evolve(user, name="Ada L.", updated_at=T0 + HOUR))
            await uow.commit()
        async with self.new_uow() as uow:
            stored = await uow.users.get(user.id)
        assert stored is not None
        assert (stored.name, stored.updated_at) == ("Ada L.", T0 + HOUR)

    async def test_slugs_are_unique_on_add_and_on_update(self) -> None:
        """Both paths to a duplicate slug raise SlugTaken."""
        acme, other = an_organization("acme"), an_organization("other")
        await self.given(organizations=(acme, other))
        async with self.new_uow() as uow:
            assert await uow.organizations.slug_taken("acme")
            assert not await uow.organizations.slug_taken("nobody")
            with pytest.raises(SlugTaken):
                await uow.organizations.add(an_organization("acme"))
        async with self.new_uow() as uow:
            with pytest.raises(SlugTaken):
                await uow.organizations.update(evolve(other, slug="acme"))

    async def test_a_users_organizations_come_in_pages_in_id_order(self) -> None:
        """Five organizations in pages of two: three pages, each after the last, none repeated."""
        user = a_user()
        organizations = tuple(an_organization(f"org-{n}") for n in range(5))
        memberships = tuple(Membership(o.id, user.id, Role.VIEWER, T0) for o in organizations)
        await self.given(user, organizations=organizations, memberships=memberships)
        seen: list[UUID] = []
        after = None
        async with self.new_uow() as uow:
            for _ in range(3):
                page = await uow.organizations.list_for_user(user.id, PageRequest(2, after))
                seen += [item.organization.id for item in page.items]
                assert all(item.role is Role.VIEWER for item in page.items)
                after = page.next_after
            assert after is None
        assert seen == sorted(o.id for o in organizations)

    async def test_deleting_an_organization_deletes_its_members_and_keys(self) -> None:
        """Nothing of a deleted organization remains reachable."""
        user, acme = a_user(), an_organization()
        await self.given(
            user, organizations=(acme,), memberships=(Membership(acme.id, user.id, Role.OWNER, T0),)
        )
        key = a_key(acme.id)
        async with self.new_uow() as uow:
            await uow.api_keys.add(key)
            await uow.organizations.delete(acme.id)
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.organizations.get(acme.id) is None
            assert await uow.memberships.get(acme.id, user.id) is None
            assert await uow.api_keys.get_by_public_id(key.public_id) is None
            assert (await uow.organizations.list_for_user(user.id, PageRequest())).items == []

    async def test_memberships_carry_roles_and_count_owners(self) -> None:
        """Roles are stored, changed and counted; a removed member is gone."""
        ada, bob, acme = a_user("ada@x.io"), a_user("bob@x.io"), an_organization()
        await self.given(
            ada,
            bob,
            organizations=(acme,),
            memberships=(
                Membership(acme.id, ada.id, Role.OWNER, T0),
                Membership(acme.id, bob.id, Role.MEMBER, T0),
            ),
        )
        async with self.new_uow() as uow:
            assert await uow.memberships.count_owners(acme.id) == 1
            await uow.memberships.set_role(acme.id, bob.id, Role.OWNER)
            assert await uow.memberships.count_owners(acme.id) == 2
            member = await uow.memberships.get(acme.id, bob.id)
            assert member is not None
            assert (member.email, member.role) == ("bob@x.io", Role.OWNER)
            await uow.memberships.remove(acme.id, ada.id)
            page = await uow.memberships.list(acme.id, PageRequest())
            assert [m.user_id for m in page.items] == [bob.id]

    async def test_api_keys_are_found_listed_and_deleted(self) -> None:
        """A key is found by public id in any organization; deleting reports whether it existed."""
        acme = an_organization()
        await self.given(organizations=(acme,))
        keys = [a_key(acme.id, f"pub{n}") for n in range(3)]
        async with self.new_uow() as uow:
            for key in keys:
                await uow.api_keys.add(key)
            assert await uow.api_keys.get_by_public_id("pub1") == keys[1]
            page = await uow.api_keys.list(acme.id, PageRequest(2))
            assert [k.id for k in page.items] == [keys[0].id, keys[1].id]
            assert page.next_after == keys[1].id
            assert await uow.api_keys.delete(acme.id, keys[0].id)
            assert not await uow.api_keys.delete(acme.id, keys[0].id)
            assert not await uow.api_keys.delete(ids.new_id(), keys[1].id)

    async def test_a_key_is_read_with_its_creators_current_standing(self) -> None:
        """Every read joins the creator's details and membership now, in the key's own lookup."""
        ada, bob, acme = a_user("ada@x.io"), a_user("bob@x.io"), an_organization()
        await self.given(
            ada,
            bob,
            organizations=(acme,),
            memberships=(Membership(acme.id, ada.id, Role.ADMIN, T0),),
        )
        keys = [
            evolve(a_key(acme.id, "pub0"), created_by=ada.id, creator_joined_at=T0),
            evolve(a_key(acme.id, "pub1"), created_by=bob.id, creator_joined_at=T0),
            a_key(acme.id, "pub2"),
        ]
        expected = [
            KeyCreator(ada.id, "ada@x.io", "Ada", Role.ADMIN, T0),
            KeyCreator(bob.id, "bob@x.io", "Ada", None, None),
            None,
        ]
        async with self.new_uow() as uow:
            for key in keys:
                await uow.api_keys.add(key)
            found = [await uow.api_keys.get_by_public_id(k.public_id) for k in keys]
            got = [await uow.api_keys.get(acme.id, k.id) for k in keys]
            listed = (await uow.api_keys.list(acme.id, PageRequest())).items
            await uow.memberships.set_role(acme.id, ada.id, Role.VIEWER)
            demoted = await uow.api_keys.get_by_public_id("pub0")
        for read in (found, got, listed):
            assert [k.creator if k else "missing" for k in read] == expected
        assert [k.creator_joined_at if k else None for k in found] == [T0, T0, None]
        assert demoted is not None
        assert demoted.creator == evolve(expected[0], role=Role.VIEWER)  # type: ignore[misc]
        assert demoted.status(T0) is KeyStatus.CREATOR_DEMOTED

    async def test_last_used_never_moves_backwards(self) -> None:
        """Of two racing requests, the later use wins whatever the order of the writes."""
        acme = an_organization()
        await self.given(organizations=(acme,))
        key = a_key(acme.id)
        async with self.new_uow() as uow:
            await uow.api_keys.add(key)
            await uow.api_keys.mark_used(key.id, T0 + 2 * HOUR)
            await uow.api_keys.mark_used(key.id, T0 + HOUR)
            stored = await uow.api_keys.get(acme.id, key.id)
        assert stored is not None
        assert stored.last_used_at == T0 + 2 * HOUR

    async def test_an_access_token_resolves_to_its_user_and_all_roles_until_it_expires(
        self,
    ) -> None:
        """One lookup gives the user and all memberships; an expired or revoked token gives none."""
        ada, acme, beta = a_user(), an_organization("acme"), an_organization("beta")
        await self.given(
            ada,
            organizations=(acme, beta),
            memberships=(
                Membership(acme.id, ada.id, Role.OWNER, T0),
                Membership(beta.id, ada.id, Role.VIEWER, T0),
            ),
        )
        token = AccessToken(b"t" * 32, ada.id, T0, T0 + HOUR)
        async with self.new_uow() as uow:
            await uow.access_tokens.add(token)
            principal = await uow.access_tokens.principal_for(token.token_hash, T0)
            assert principal is not None
            assert principal.user_id == ada.id
            assert dict(principal.roles) == {acme.id: Role.OWNER, beta.id: Role.VIEWER}
            assert await uow.access_tokens.principal_for(token.token_hash, T0 + HOUR) is None
            await uow.access_tokens.revoke(token.token_hash)
            assert await uow.access_tokens.principal_for(token.token_hash, T0) is None

    async def test_revoking_all_tokens_keeps_the_one_asked_for(self) -> None:
        """A password change signs out the other sessions; purging drops expired tokens."""
        ada = a_user()
        await self.given(ada)
        tokens = [AccessToken(bytes([n]) * 32, ada.id, T0, T0 + HOUR * (n + 1)) for n in range(3)]
        async with self.new_uow() as uow:
            for token in tokens:
                await uow.access_tokens.add(token)
            await uow.access_tokens.purge_expired(ada.id, T0 + HOUR)
            assert await uow.access_tokens.principal_for(tokens[1].token_hash, T0) is not None
            await uow.access_tokens.revoke_all_of(ada.id, keep=tokens[1].token_hash)
            found = [await uow.access_tokens.principal_for(t.token_hash, T0) for t in tokens]
        assert [p is not None for p in found] == [False, True, False]

    async def test_login_attempts_are_counted_per_key_and_window(self) -> None:
        """The attempt past a key's limit gets the rest of its window; a new window starts anew."""
        window = timedelta(minutes=15)
        async with self.new_uow() as uow:
            throttle = uow.login_throttle
            for n in range(3):
                assert (
                    await throttle.register_attempt(
                        {"a": 3, "b": 3}, T0 + timedelta(minutes=n), window
                    )
                    is None
                )
            wait = await throttle.register_attempt({"a": 3}, T0 + timedelta(minutes=5), window)
            assert wait == timedelta(minutes=10)
            await throttle.forgive(["b"], clear=["a"])
            assert (
                await throttle.register_attempt({"a": 3, "b": 3}, T0 + timedelta(minutes=6), window)
                is None
            )
            assert await throttle.register_attempt(
                {"b": 3}, T0 + timedelta(minutes=6), window
            ) == timedelta(minutes=9)
            assert await throttle.register_attempt({"b": 3}, T0 + window, window) is None

    async def test_a_refused_login_attempt_counts_on_no_key(self) -> None:
        """All or nothing: an attempt one key refuses leaves every other key's count as it was."""
        window = timedelta(minutes=15)
        async with self.new_uow() as uow:
            throttle = uow.login_throttle
            assert await throttle.register_attempt({"pair": 1, "account": 4}, T0, window) is None
            for _ in range(5):
                refused = await throttle.register_attempt({"pair": 1, "account": 4}, T0, window)
                assert refused == window
            for _ in range(3):
                assert await throttle.register_attempt({"x": 9, "account": 4}, T0, window) is None
            assert await throttle.register_attempt({"y": 9, "account": 4}, T0, window) == window
            assert await throttle.register_attempt({"x": 4}, T0, window) is None

    async def test_counters_whose_window_is_over_are_purged_in_batches_live_ones_kept(
        self,
    ) -> None:
        """Rows whose window started at or before the cut go, ``limit`` at a time; a live
        row stays with its count, and a purged key is judged as a key never seen."""
        window, minute = timedelta(minutes=15), timedelta(minutes=1)
        async with self.new_uow() as uow:
            throttle = uow.login_throttle
            for key in ("old0", "old1", "old2"):
                assert await throttle.register_attempt({key: 1}, T0, window) is None
            assert await throttle.register_attempt({"old0": 1}, T0, window) == window  # closed
            assert await throttle.register_attempt({"edge": 2}, T0 + minute, window) is None
            assert await throttle.register_attempt({"live": 2}, T0 + 2 * minute, window) is None
            await uow.commit()
        now = T0 + window + minute  # "edge" started exactly one window ago: its window is over
        async with self.new_uow() as uow:
            purged = [await uow.login_throttle.purge_expired(now - window, 3) for _ in range(3)]
            await uow.commit()
        assert purged == [3, 1, 0]
        assert await self.login_attempt_keys() == {"live"}
        async with self.new_uow() as uow:
            throttle = uow.login_throttle
            # "live" still holds its attempt: one more passes, the next waits out its window
            assert await throttle.register_attempt({"live": 2}, now, window) is None
            assert await throttle.register_attempt({"live": 2}, now, window) == minute
            # the closed "old0" is open again, exactly as a key never seen
            decisions = {
                key: [await throttle.register_attempt({key: 1}, now, window) for _ in range(2)]
                for key in ("old0", "never-seen")
            }
        assert decisions["old0"] == decisions["never-seen"] == [None, window]

    async def test_a_known_client_is_known_until_its_time_and_a_later_remember_extends_it(
        self,
    ) -> None:
        """known() is true strictly before ``until``; remembering again never shortens it."""
        async with self.new_uow() as uow:
            throttle = uow.login_throttle
            assert not await throttle.known("k", T0)
            await throttle.remember("k", T0 + HOUR)
            await throttle.remember("k", T0 + timedelta(minutes=1))
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.login_throttle.known("k", T0 + timedelta(minutes=59))
            assert not await uow.login_throttle.known("k", T0 + HOUR)
            assert not await uow.login_throttle.known("other", T0)

    async def test_an_idempotency_key_is_claimed_once_and_then_replays(self) -> None:
        """The first claim reserves the key; later ones see the saved response until it expires."""
        response = StoredResponse(201, b'{"id": 1}')
        async with self.new_uow() as uow:
            assert await uow.idempotency.claim("user:1", "k", "fp", T0, T0 + HOUR) is None
            await uow.idempotency.save("user:1", "k", response)
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.idempotency.claim("user:1", "k", "other", T0, T0 + HOUR) == (
                "fp",
                response,
            )
            assert await uow.idempotency.claim("user:2", "k", "fp", T0, T0 + HOUR) is None
            assert (
                await uow.idempotency.claim("user:1", "k", "new", T0 + HOUR, T0 + 2 * HOUR) is None
            )


class TestInMemoryIdentityRepositories(IdentityRepositoriesContract):
    """The contract, on the in-memory store."""

    @pytest.fixture(autouse=True)
    def _store(self) -> None:
        self.store = InMemoryStore()

    def new_uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def login_attempt_keys(self) -> set[str]:
        return set(self.store.tables.get("login_attempts", {}))


@pytest.mark.postgres
class TestPostgresIdentityRepositories(IdentityRepositoriesContract):
    """The contract, on a real, migrated PostgreSQL database."""

    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str) -> AsyncIterator[None]:
        async with pool_on(migrated_database_url) as self.pool:
            yield

    def new_uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.pool)

    async def login_attempt_keys(self) -> set[str]:
        async with self.pool.connection() as connection:
            cursor = await connection.execute("SELECT key FROM login_attempts")
            return {key for (key,) in await cursor.fetchall()}

    async def test_purging_skips_a_counter_an_open_attempt_holds(self) -> None:
        """A sweep deletes around a row another transaction holds, without waiting for it; the
        attempt that held it then counts in a window of its own."""
        window = timedelta(minutes=15)
        async with self.new_uow() as uow:
            for key in ("held", "free"):
                assert await uow.login_throttle.register_attempt({key: 5}, T0, window) is None
            await uow.commit()
        now = T0 + 2 * window
        async with self.new_uow() as attempt, self.new_uow() as sweep:
            assert await attempt.login_throttle.register_attempt({"held": 5}, now, window) is None
            purge = sweep.login_throttle.purge_expired(now - window, 10)
            assert await asyncio.wait_for(purge, 2) == 1
            await sweep.commit()
            await attempt.commit()
        assert await self.login_attempt_keys() == {"held"}
        async with self.new_uow() as uow:  # its one attempt, in a window started at ``now``
            assert await uow.login_throttle.register_attempt({"held": 1}, now, window) == window
