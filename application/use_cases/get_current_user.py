"""The signed-in user's own account."""

from __future__ import annotations

from attrs import frozen

from thedata.application.authorization import require_user
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Role
from thedata.domain.errors import Unauthenticated
from thedata.domain.principal import Principal
from thedata.domain.users import User


@frozen
class UserProfile:
    """A user and their role in each of their organizations."""

    user: User
    roles: dict[str, Role]
    """Role by organization id (as text, ordered by id)."""


def profile_of(user: User, principal: Principal) -> UserProfile:
    """The profile of ``user`` with the memberships resolved with the principal."""
    roles = {str(org): principal.roles[org] for org in sorted(principal.roles)}
    return UserProfile(user, roles)


class GetCurrentUser:
    """Read the caller's account and memberships."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> UserProfile:
        """The caller's profile; API keys have none (``NotAUser``)."""
        user_id = require_user(principal)
        async with self._uow().reading() as uow:
            user = await uow.users.get(user_id)
        if user is None:  # deleted between authentication and now
            raise Unauthenticated("the account no longer exists")
        return profile_of(user, principal)
