"""Removing a member, or leaving an organization."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.application.use_cases.membership_changes import (
    check_an_owner_remains,
    lock_and_authorize,
    refuse_role_change,
)
from thedata.domain.access import Action, may_remove_member
from thedata.domain.organizations import MemberNotFound, OrganizationNotFound
from thedata.domain.principal import Principal


class RemoveMember:
    """Remove a member (admins; owners for an owner), or let any member leave."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID, user_id: UUID) -> None:
        """Remove the membership; ``LastOwner`` if it is the last owner's."""
        is_self = principal.user_id == user_id
        async with self._uow() as uow:
            if is_self:
                authorize(principal, organization_id, Action.READ)
                if await uow.organizations.get(organization_id, lock=True) is None:
                    raise OrganizationNotFound(f"organization {organization_id} not found")
                actor = None
            else:
                actor = await lock_and_authorize(uow, principal, organization_id)
            member = await uow.memberships.get(organization_id, user_id)
            if member is None:
                raise MemberNotFound(f"user {user_id} is not a member")
            if actor is not None and not may_remove_member(actor, member.role, is_self=False):
                raise refuse_role_change(actor)
            await check_an_owner_remains(uow, organization_id, member.role, None)
            await uow.memberships.remove(organization_id, user_id)
            await uow.commit()
