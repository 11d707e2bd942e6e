"""An organization's API keys (their records; never the keys themselves)."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.api_keys import ListedApiKey
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal


class ListApiKeys:
    """A page of an organization's keys with who made each and whether it works (admins, owners)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, principal: Principal, organization_id: UUID, page: PageRequest
    ) -> Page[ListedApiKey]:
        """The keys in id (creation) order, each with its status now."""
        authorize(principal, organization_id, Action.MANAGE_API_KEYS)
        async with self._uow().reading() as uow:
            keys = await uow.api_keys.list(organization_id, page)
        now = self._clock.now()
        return Page([ListedApiKey(key, key.status(now)) for key in keys.items], keys.next_after)
