"""What adding, changing and removing members share: the locked view of an organization."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize, forbidden
from thedata.application.ports import UnitOfWork
from thedata.domain.access import Action, Role, keeps_an_owner
from thedata.domain.organizations import LastOwner, OrganizationNotFound
from thedata.domain.principal import Principal


async def lock_and_authorize(uow: UnitOfWork, principal: Principal, organization_id: UUID) -> Role:
    """Lock the organization and return the actor's role as it is now, not at sign-in.

    Every change of membership takes this lock first, so two changes to one
    organization run one after the other: of two owners demoting each other at
    once, the second sees the first's change and is refused.
    """
    role = authorize(principal, organization_id, Action.MANAGE_MEMBERS)
    if await uow.organizations.get(organization_id, lock=True) is None:
        raise OrganizationNotFound(f"organization {organization_id} not found")
    if principal.user_id is None:  # an API key's role is fixed when it is created
        return role
    actor = await uow.memberships.get(organization_id, principal.user_id)
    if actor is None:
        raise OrganizationNotFound(f"organization {organization_id} not found")
    return actor.role


async def check_an_owner_remains(
    uow: UnitOfWork, organization_id: UUID, current: Role, new: Role | None
) -> None:
    """Refuse a change that would leave the organization without an owner."""
    if current is Role.OWNER and new is not Role.OWNER:
        owners = await uow.memberships.count_owners(organization_id)
        if not keeps_an_owner(owners, current, new):
            raise LastOwner("an organization must keep at least one owner")


def refuse_role_change(actor: Role) -> Exception:
    """The error for an actor who may manage members but not owners."""
    return forbidden(actor, Action.GRANT_OWNER)
