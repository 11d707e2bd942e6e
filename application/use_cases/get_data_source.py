"""One data source, and the organization's data sources."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.application.use_cases.data_source_access import find_data_source
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSource
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal


class GetDataSource:
    """Read a data source (any member)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, data_source_id: UUID
    ) -> DataSource:
        """The data source, its secrets named but not shown."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await find_data_source(uow, organization_id, data_source_id)


class ListDataSources:
    """A page of the organization's data sources (any member)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, page: PageRequest
    ) -> Page[DataSource]:
        """The data sources in id order."""
        authorize(principal, organization_id, Action.READ)
        async with self._uow().reading() as uow:
            return await uow.data_sources.list(organization_id, page)
