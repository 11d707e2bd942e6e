"""Sign-up, sign-in and credentials: the rules, on the in-memory adapters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.identity import PASSWORD, Identity, cheap_hasher
from thedata.adapters.security import Argon2PasswordHasher
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.use_cases import (
    CreatedApiKey,
    NewApiKey,
    UpdateCurrentUser,
    UserChanges,
)
from thedata.domain.access import Role
from thedata.domain.errors import InvalidInput, Unauthenticated
from thedata.domain.principal import PrincipalKind
from thedata.domain.tokens import InvalidCredentials, TooManyLoginAttempts
from thedata.domain.users import EmailTaken, SignupDisabled


async def test_emails_are_unique_whatever_their_case() -> None:
    """Registering Ada@X.io after ada@x.io is refused: emails compare case-insensitively."""
    identity = Identity.in_memory()
    registration = await identity.register(" ada@x.io", PASSWORD, "Ada")
    assert registration.user.email == "ada@x.io"
    with pytest.raises(EmailTaken):
        await identity.register("Ada@X.io", PASSWORD, "Ada again")


async def test_sign_up_can_be_switched_off() -> None:
    """With sign-up disabled by policy, nobody can register."""
    identity = Identity.in_memory(policy=IdentityPolicy(allow_signup=False))
    with pytest.raises(SignupDisabled):
        await identity.register("ada@x.io", PASSWORD, "Ada")


@pytest.mark.parametrize("password", ["", "x" * 11, "y" * 1025])
async def test_passwords_outside_the_policy_are_refused(password: str) -> None:
    """Fewer than 12 characters (or absurdly many) is invalid input naming /password."""
    identity = Identity.in_memory()
    with pytest.raises(InvalidInput) as raised:
        await identity.register("ada@x.io", password, "Ada")
    assert [e.field for e in raised.value.errors] == ["/password"]


async def test_unknown_email_and_wrong_password_get_the_same_answer_and_cost() -> None:
    """Both are InvalidCredentials with one message, and both run the KDF exactly once."""
    calls: list[str | None] = []
    hasher = cheap_hasher()
    verify = hasher.verify

    async def counting_verify(password: str, encoded: str | None) -> bool:
        calls.append(encoded and "real")
        return await verify(password, encoded)

    hasher.verify = counting_verify  # type: ignore[method-assign]
    identity = Identity.in_memory(hasher=hasher)
    await identity.register("ada@x.io", PASSWORD, "Ada")
    errors = []
    for email, password in [("nobody@x.io", PASSWORD), ("ada@x.io", "wrong password!")]:
        with pytest.raises(InvalidCredentials) as raised:
            await identity.sign_in(email, password, "10.0.0.1")
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert calls == [None, "real"]


async def test_failed_sign_ins_are_limited_per_account_and_address_for_a_window() -> None:
    """The 11th attempt from one address in 15 minutes is refused with a wait; later it passes."""
    identity = Identity.in_memory()
    await identity.register("ada@x.io", PASSWORD, "Ada")
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in("ada@x.io", "wrong password!", "10.0.0.1")
    with pytest.raises(TooManyLoginAttempts) as raised:
        await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")  # even the right password
    assert 0 < raised.value.retry_after <= 15 * 60
    identity.clock.advance(timedelta(minutes=15))
    assert await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")


async def test_a_locked_out_attacker_does_not_lock_out_the_victim_elsewhere() -> None:
    """Guessing Ada's password from one address locks that address out of her account, not Ada."""
    identity = Identity.in_memory()
    await identity.register("ada@x.io", PASSWORD, "Ada")
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in("ada@x.io", "wrong password!", "203.0.113.9")
    for _ in range(100):  # refused attempts check no password, and count on no wider limit
        with pytest.raises(TooManyLoginAttempts):
            await identity.sign_in("ada@x.io", "wrong password!", "203.0.113.9")
    assert await identity.sign_in("ada@x.io", PASSWORD, "198.51.100.7")


async def test_a_colleague_behind_the_same_nat_is_not_locked_out() -> None:
    """Someone's failures on one account leave another account at the same address alone."""
    identity = Identity.in_memory()
    await identity.register("ada@x.io", PASSWORD, "Ada")
    await identity.register("bob@x.io", PASSWORD, "Bob")
    for _ in range(30):
        with pytest.raises((InvalidCredentials, TooManyLoginAttempts)):
            await identity.sign_in("ada@x.io", "wrong password!", "192.0.2.1")
    assert await identity.sign_in("bob@x.io", PASSWORD, "192.0.2.1")


async def test_guessing_one_account_from_many_addresses_is_limited() -> None:
    """Failures spread over addresses still count on the account, up to its own, higher limit."""
    identity = Identity.in_memory(
        policy=IdentityPolicy(login_attempt_limit=3, login_account_limit=7)
    )
    await identity.register("ada@x.io", PASSWORD, "Ada")
    for n in range(7):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in("ada@x.io", "wrong password!", f"10.0.0.{n}")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("ada@x.io", PASSWORD, "10.0.1.1")


async def test_a_distributed_lockout_does_not_close_the_account_to_a_known_client() -> None:
    """Fifty wrong guesses from five networks close Ada's account to new clients, not to the
    address she has signed in from before; there her own pair limit still applies."""
    identity = Identity.in_memory()
    await identity.register("ada@x.io", PASSWORD, "Ada")
    assert await identity.sign_in("ada@x.io", PASSWORD, "198.51.100.7")
    for network in range(5):
        for _ in range(10):
            with pytest.raises(InvalidCredentials):
                await identity.sign_in("ada@x.io", "wrong password!", f"2001:db8:0:{network}::1")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("ada@x.io", PASSWORD, "192.0.2.44")  # a client never seen
    assert await identity.sign_in("ada@x.io", PASSWORD, "198.51.100.7")
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in("ada@x.io", "wrong password!", "198.51.100.7")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("ada@x.io", PASSWORD, "198.51.100.7")


async def test_failed_sign_ins_are_limited_per_client_address() -> None:
    """Guessing across many accounts from one address is limited too, at its own higher limit."""
    identity = Identity.in_memory(policy=IdentityPolicy(login_address_limit=20))
    for n in range(20):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in(f"user{n}@x.io", "wrong password!", "10.9.9.9")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("another@x.io", "wrong password!", "10.9.9.9")


async def test_an_ipv6_client_is_limited_by_its_64_bit_network() -> None:
    """Addresses of one /64 count as one client: one host there holds 2**64 of them."""
    identity = Identity.in_memory(policy=IdentityPolicy(login_address_limit=20))
    for n in range(20):
        with pytest.raises(InvalidCredentials):
            await identity.sign_in(f"user{n}@x.io", "wrong password!", f"2001:db8:1:2::{n:x}")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("another@x.io", "wrong password!", "2001:db8:1:2:ffff::1")
    with pytest.raises(InvalidCredentials):
        await identity.sign_in("another@x.io", "wrong password!", "2001:db8:1:3::1")


async def test_a_successful_sign_in_resets_the_account_counter() -> None:
    """Nine failures, a success, then nine more failures: never blocked, on either limit."""
    identity = Identity.in_memory(policy=IdentityPolicy(login_account_limit=10))
    await identity.register("ada@x.io", PASSWORD, "Ada")
    for _ in range(2):
        for _ in range(9):
            with pytest.raises(InvalidCredentials):
                await identity.sign_in("ada@x.io", "wrong password!", "10.0.0.1")
        await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")


async def test_wrong_current_passwords_are_limited_like_sign_ins() -> None:
    """Guessing the current password on a password change counts on the same limits as sign-in."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    update = UpdateCurrentUser(identity.uow, identity.clock, identity.hasher, identity.policy)
    guess = UserChanges(password="a brand new passphrase", current_password="wrong password!")
    for _ in range(10):
        with pytest.raises(InvalidInput):
            await update(ada, guess, "10.0.0.1")
    right = UserChanges(password="a brand new passphrase", current_password=PASSWORD)
    with pytest.raises(TooManyLoginAttempts):
        await update(ada, right, "10.0.0.1")
    with pytest.raises(TooManyLoginAttempts):
        await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")
    identity.clock.advance(timedelta(minutes=15))
    await update(ada, right, "10.0.0.1")


async def test_a_right_current_password_forgives_earlier_wrong_ones() -> None:
    """Nine wrong current passwords, a right one, nine more: never blocked."""
    identity = Identity.in_memory()
    ada = await identity.user("ada@x.io")
    update = UpdateCurrentUser(identity.uow, identity.clock, identity.hasher, identity.policy)
    password = PASSWORD
    for round_ in range(2):
        for _ in range(9):
            wrong = UserChanges(password="x" * 12 + str(round_), current_password="wrong!" * 3)
            with pytest.raises(InvalidInput):
                await update(ada, wrong, "10.0.0.1")
        new = f"passphrase number {round_}"
        await update(ada, UserChanges(password=new, current_password=password), "10.0.0.1")
        password = new


async def test_sign_in_rehashes_a_password_made_with_weaker_parameters() -> None:
    """Raising the KDF parameters upgrades each stored hash at its owner's next sign-in."""
    identity = Identity.in_memory()
    registration = await identity.register("ada@x.io", PASSWORD, "Ada")
    assert "m=8," in registration.user.password_hash
    identity.hasher = Argon2PasswordHasher(memory_kib=64, iterations=2)
    await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")
    async with identity.uow() as uow:
        user = await uow.users.get(registration.user.id)
    assert user is not None
    assert "m=64,t=2" in user.password_hash
    await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")  # the new hash verifies


async def test_an_access_token_stops_working_when_it_expires() -> None:
    """A token is refused from the instant of its expiry."""
    identity = Identity.in_memory(policy=IdentityPolicy(access_token_ttl=timedelta(hours=1)))
    registration = await identity.register("ada@x.io", PASSWORD, "Ada")
    assert (await identity.authenticate(registration.access_token)).kind is PrincipalKind.USER
    identity.clock.advance(timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        await identity.authenticate(registration.access_token)


async def test_a_key_records_its_use_at_most_once_per_resolution() -> None:
    """last_used_at moves on the first use and again only after five minutes."""
    identity = Identity.in_memory()
    owner = await identity.user("ada@x.io")
    org, owner = await identity.organization(owner)
    created = await identity.create_api_key(owner, org, NewApiKey("ci", Role.MEMBER))
    assert isinstance(created, CreatedApiKey)
    first_use = identity.clock.now()
    for _ in range(3):
        await identity.authenticate(created.key)
        identity.clock.advance(timedelta(minutes=1))
    async with identity.uow() as uow:
        record = await uow.api_keys.get(org, created.record.id)
    assert record is not None
    assert record.last_used_at == first_use
    identity.clock.advance(timedelta(minutes=3))
    await identity.authenticate(created.key)
    async with identity.uow() as uow:
        record = await uow.api_keys.get(org, created.record.id)
    assert record is not None
    assert record.last_used_at == identity.clock.now()


async def test_an_expired_key_is_refused() -> None:
    """A key with an expiry stops authenticating when it is reached."""
    identity = Identity.in_memory()
    owner = await identity.user("ada@x.io")
    org, owner = await identity.organization(owner)
    expiry = identity.clock.now() + timedelta(days=1)
    created = await identity.create_api_key(owner, org, NewApiKey("ci", Role.VIEWER, expiry))
    assert isinstance(created, CreatedApiKey)
    principal = await identity.authenticate(created.key)
    assert principal.role_in(org) is Role.VIEWER
    identity.clock.advance(timedelta(days=1))
    with pytest.raises(Unauthenticated):
        await identity.authenticate(created.key)
