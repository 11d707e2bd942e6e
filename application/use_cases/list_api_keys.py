"""An organization's API keys (their records; never the keys themselves)."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.api_keys import ApiKey
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal


class ListApiKeys:
    """A page of an organization's keys (admins and owners)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, page: PageRequest
    ) -> Page[ApiKey]:
        """The keys in id (creation) order."""
        authorize(principal, organization_id, Action.MANAGE_API_KEYS)
        async with self._uow() as uow:
            return await uow.api_keys.list(organization_id, page)
