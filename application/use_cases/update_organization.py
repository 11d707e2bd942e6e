"""Renaming an organization or changing its slug."""

from __future__ import annotations

from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.organizations import (
    OrganizationNotFound,
    OrganizationWithRole,
    SlugTaken,
    check_slug,
)
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class OrganizationChanges:
    """What to change; ``None`` leaves a field as it is."""

    name: str | None = None
    slug: str | None = None


class UpdateOrganization:
    """Change an organization's name or slug (owners only)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, principal: Principal, organization_id: UUID, changes: OrganizationChanges
    ) -> OrganizationWithRole:
        """The updated organization; ``SlugTaken`` if another organization has the slug."""
        role = authorize(principal, organization_id, Action.MANAGE_ORGANIZATION)
        name = check_display_name(changes.name) if changes.name is not None else None
        slug = check_slug(changes.slug) if changes.slug is not None else None
        async with self._uow() as uow:
            organization = await uow.organizations.get(organization_id, lock=True)
            if organization is None:
                raise OrganizationNotFound(f"organization {organization_id} not found")
            if slug is not None and slug != organization.slug:
                if await uow.organizations.slug_taken(slug):
                    raise SlugTaken(f"the slug {slug!r} is taken")
                organization.slug = slug
            organization.name = name if name is not None else organization.name
            organization.updated_at = self._clock.now()
            await uow.organizations.update(organization)
            await uow.commit()
        return OrganizationWithRole(organization, role)
