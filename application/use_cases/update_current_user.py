"""Changes to the signed-in user's own account: name and password."""

from __future__ import annotations

from attrs import frozen

from thedata.application.authorization import require_user
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.password_attempts import PasswordAttempt
from thedata.application.ports import Clock, PasswordHasher, UnitOfWorkFactory
from thedata.application.use_cases.get_current_user import UserProfile, profile_of
from thedata.domain.errors import FieldError, InvalidInput, Unauthenticated
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name, check_password


@frozen
class UserChanges:
    """What to change; ``None`` leaves a field as it is. A new password needs the current one."""

    name: str | None = None
    password: str | None = None
    current_password: str | None = None


class UpdateCurrentUser:
    """Rename the caller or change their password; a new password signs out other sessions.

    The current password is checked within the same limits as sign-in, on the
    same counters (``PasswordAttempt``): a stolen session must not be a way to
    guess the password without limit, and so take the account over for good.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher, policy: IdentityPolicy
    ) -> None:
        self._uow, self._clock, self._hasher, self._policy = uow, clock, hasher, policy

    async def __call__(
        self, principal: Principal, changes: UserChanges, client_address: str
    ) -> UserProfile:
        """The updated profile; ``InvalidInput`` for a bad name, password or current password.

        ``TooManyLoginAttempts`` when the current password was guessed too often,
        from ``client_address`` or overall.
        """
        user_id = require_user(principal)
        name = check_display_name(changes.name) if changes.name is not None else None
        if changes.password is not None:
            check_password(changes.password)
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise Unauthenticated("the account no longer exists")
        new_hash, attempt = None, None
        if changes.password is not None:
            attempt = await self._check_current_password(
                changes.current_password, user.email, user.password_hash, client_address
            )
            new_hash = await self._hasher.hash(changes.password)
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists")
            user.name = name if name is not None else user.name
            user.password_hash = new_hash if new_hash is not None else user.password_hash
            user.updated_at = self._clock.now()
            await uow.users.update(user)
            if new_hash is not None:
                await uow.access_tokens.revoke_all_of(user_id, keep=principal.token_hash)
            if attempt is not None:
                await attempt.forgive(uow, self._clock.now(), self._policy)
            await uow.commit()
        return profile_of(user, principal)

    async def _check_current_password(
        self, current: str | None, email: str, encoded: str, client_address: str
    ) -> PasswordAttempt:
        """The counted attempt, to forgive once the change is stored; raises if wrong."""
        attempt = PasswordAttempt.of(email, client_address)
        if current is None:
            message = "required to set a new password"  # not a guess: nothing to count
        else:
            async with self._uow() as uow:
                await attempt.register(uow, self._clock.now(), self._policy)
                await uow.commit()
            if await self._hasher.verify(current, encoded):
                return attempt
            message = "does not match the current password"
        raise InvalidInput(
            "the current password is needed", [FieldError("/current_password", message)]
        )
