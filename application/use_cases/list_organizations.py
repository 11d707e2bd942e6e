"""The caller's organizations."""

from __future__ import annotations

from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.organizations import OrganizationWithRole
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal


class ListOrganizations:
    """A page of the organizations the caller belongs to, with the caller's role in each."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[OrganizationWithRole]:
        """A user's organizations; an API key's one organization."""
        async with self._uow().reading() as uow:
            if principal.user_id is not None:
                return await uow.organizations.list_for_user(principal.user_id, page)
            ((organization_id, role),) = principal.roles.items()
            organization = await uow.organizations.get(organization_id)
        on_page = organization is not None and (page.after is None or page.after < organization_id)
        items = [OrganizationWithRole(organization, role)] if organization and on_page else []
        return Page(items, None)
