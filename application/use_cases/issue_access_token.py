"""Sign-in: an access token for an email and password, with brute-force limits."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from thedata.application.identity_policy import IdentityPolicy
from thedata.application.password_attempts import PasswordAttempt
from thedata.application.ports import Clock, CredentialGenerator, PasswordHasher, UnitOfWorkFactory
from thedata.domain.credentials import credential_hash
from thedata.domain.tokens import AccessToken, InvalidCredentials
from thedata.domain.users import is_email


@frozen
class IssuedToken:
    """A new access token and when it expires."""

    access_token: str
    expires_at: datetime


class IssueAccessToken:
    """Check the password and issue a token, within the limits on guessing.

    An attempt is counted before the password is checked and forgiven when it
    succeeds, so concurrent guesses cannot slip past the limits; which counters
    and why is ``PasswordAttempt``'s business. An unknown email costs the same
    KDF time as a wrong password and gets the same answer.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        credentials: CredentialGenerator,
        policy: IdentityPolicy,
    ) -> None:
        self._uow, self._clock = uow, clock
        self._hasher, self._credentials, self._policy = hasher, credentials, policy

    async def __call__(self, email: str, password: str, client_address: str) -> IssuedToken:
        """Sign in; ``InvalidCredentials`` or ``TooManyLoginAttempts`` if not.

        ``client_address`` is the client's IP address as the edge established it.
        """
        email = email.strip().lower()
        attempt = PasswordAttempt.of(email, client_address)
        async with self._uow() as uow:
            await attempt.register(uow, self._clock.now(), self._policy)
            # a malformed email has no account; it still costs a full attempt below
            user = await uow.users.get_by_email(email) if is_email(email) else None
            await uow.commit()
        valid = await self._hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            raise InvalidCredentials("the email or password is wrong")
        rehashed = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(user.password_hash)
            else None
        )
        token = self._credentials.access_token()
        now = self._clock.now()
        expires_at = now + self._policy.access_token_ttl
        async with self._uow() as uow:
            await attempt.forgive(uow, self._clock.now(), self._policy)
            await uow.access_tokens.purge_expired(user.id, now)
            await uow.access_tokens.add(
                AccessToken(credential_hash(token), user.id, now, expires_at)
            )
            if rehashed is not None:
                user.password_hash, user.updated_at = rehashed, now
                await uow.users.update(user)
            await uow.commit()
        return IssuedToken(token, expires_at)
