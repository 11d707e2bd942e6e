"""Sign-up: a new account, signed in at once."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import (
    Clock,
    CredentialGenerator,
    IdFactory,
    PasswordHasher,
    UnitOfWorkFactory,
)
from thedata.domain.credentials import credential_hash
from thedata.domain.tokens import AccessToken
from thedata.domain.users import (
    EmailTaken,
    SignupDisabled,
    User,
    check_display_name,
    check_password,
    normalize_email,
)


@frozen
class Registration:
    """The new account and an access token for it."""

    user: User
    access_token: str
    expires_at: datetime


class RegisterUser:
    """Create an account (email unique regardless of case) and sign it in."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        hasher: PasswordHasher,
        credentials: CredentialGenerator,
        policy: IdentityPolicy,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._hasher, self._credentials, self._policy = hasher, credentials, policy

    async def __call__(self, email: str, password: str, name: str) -> Registration:
        """Register; ``SignupDisabled``, ``InvalidInput`` or ``EmailTaken`` if it cannot."""
        if not self._policy.allow_signup:
            raise SignupDisabled("sign-up is disabled on this server; ask an administrator")
        email = normalize_email(email)
        name = check_display_name(name)
        check_password(password)
        # hash before the transaction: a connection is not held while the KDF runs
        password_hash = await self._hasher.hash(password)
        now = self._clock.now()
        user = User(self._ids.new_id(), email, name, password_hash, now, now)
        token = self._credentials.access_token()
        expires_at = now + self._policy.access_token_ttl
        async with self._uow() as uow:
            if await uow.users.get_by_email(email) is not None:
                raise EmailTaken("an account with this email exists")
            await uow.users.add(user)
            await uow.access_tokens.add(
                AccessToken(credential_hash(token), user.id, now, expires_at)
            )
            await uow.commit()
        return Registration(user, token, expires_at)
