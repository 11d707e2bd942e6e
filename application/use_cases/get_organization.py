"""One of the caller's organizations."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.organizations import OrganizationNotFound, OrganizationWithRole
from thedata.domain.principal import Principal


class GetOrganization:
    """Read an organization the caller belongs to."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID) -> OrganizationWithRole:
        """The organization and the caller's role; ``OrganizationNotFound`` otherwise."""
        role = authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            organization = await uow.organizations.get(organization_id)
        if organization is None:
            raise OrganizationNotFound(f"organization {organization_id} not found")
        return OrganizationWithRole(organization, role)
