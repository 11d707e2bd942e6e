"""Changing a member's role."""

from __future__ import annotations

from uuid import UUID

from thedata.application.ports import UnitOfWorkFactory
from thedata.application.use_cases.membership_changes import (
    check_an_owner_remains,
    lock_and_authorize,
    refuse_role_change,
)
from thedata.domain.access import Role, may_set_role
from thedata.domain.organizations import Member, MemberNotFound
from thedata.domain.principal import Principal


class ChangeMemberRole:
    """Give a member another role, keeping the organization's last owner."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, user_id: UUID, role: Role
    ) -> Member:
        """The member with the new role; ``LastOwner`` if no owner would remain."""
        async with self._uow() as uow:
            actor = await lock_and_authorize(uow, principal, organization_id)
            member = await uow.memberships.get(organization_id, user_id)
            if member is None:
                raise MemberNotFound(f"user {user_id} is not a member")
            if not may_set_role(actor, member.role, role):
                raise refuse_role_change(actor)
            await check_an_owner_remains(uow, organization_id, member.role, role)
            await uow.memberships.set_role(organization_id, user_id, role)
            await uow.commit()
        return Member(member.user_id, member.email, member.name, role, member.joined_at)
