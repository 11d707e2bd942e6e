"""Deleting an organization and everything that belongs to it."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.organizations import OrganizationNotFound
from thedata.domain.principal import Principal


class DeleteOrganization:
    """Delete an organization with its members, API keys and resources (owners only)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID) -> None:
        """Delete it; ``OrganizationNotFound`` if the caller cannot see it."""
        authorize(principal, organization_id, Action.MANAGE_ORGANIZATION)
        async with self._uow() as uow:
            if await uow.organizations.get(organization_id, lock=True) is None:
                raise OrganizationNotFound(f"organization {organization_id} not found")
            await uow.organizations.delete(organization_id)
            await uow.commit()
