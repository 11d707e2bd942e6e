"""Adding a registered user to an organization."""

from __future__ import annotations

from uuid import UUID

from attrs import frozen

from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.application.use_cases.membership_changes import (
    lock_and_authorize,
    refuse_role_change,
)
from thedata.domain.access import Role, may_set_role
from thedata.domain.organizations import AlreadyMember, Member, MemberNotFound, Membership
from thedata.domain.principal import Principal
from thedata.domain.users import normalize_email


@frozen
class NewMember:
    """Who to add (by the email of their account) and with which role."""

    email: str
    role: Role


class AddMember:
    """Add a user with a role (admins add up to admin; only owners add owners)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: IdentityPolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        command: NewMember,
        idempotency: IdempotentRequest[Member] | None = None,
    ) -> Member:
        """The new member; ``MemberNotFound`` if no account has the email."""
        email = normalize_email(command.email)
        now = self._clock.now()
        ttl = self._policy.idempotency_ttl
        async with creating(self._uow, principal.scope, idempotency, now, ttl) as (uow, commit):
            actor = await lock_and_authorize(uow, principal, organization_id)
            if not may_set_role(actor, None, command.role):
                raise refuse_role_change(actor)
            user = await uow.users.get_by_email(email)
            if user is None:
                raise MemberNotFound("no account has this email; the person must register first")
            if await uow.memberships.get(organization_id, user.id) is not None:
                raise AlreadyMember("the user is already a member; change their role instead")
            await uow.memberships.add(Membership(organization_id, user.id, command.role, now))
            member = Member(user.id, user.email, user.name, command.role, now)
            await commit(member)
        return member
