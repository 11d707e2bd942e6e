"""The members of an organization."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.organizations import Member
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal


class ListMembers:
    """A page of an organization's members (any member may see who else belongs)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, page: PageRequest
    ) -> Page[Member]:
        """The members in user-id order."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await uow.memberships.list(organization_id, page)
