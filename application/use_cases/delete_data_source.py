"""Deleting a data source and its secrets."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.application.use_cases.data_source_access import find_data_source
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSourceInUse
from thedata.domain.principal import Principal


class DeleteDataSource:
    """Delete a data source no pipeline uses, with its secrets, in one unit of work."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, organization_id: UUID, data_source_id: UUID
    ) -> None:
        """Delete it; ``DataSourceInUse`` while a pipeline reads from or writes to it."""
        authorize(principal, organization_id, Action.WRITE)
        async with self._uow() as uow:
            data_source = await find_data_source(uow, organization_id, data_source_id, lock=True)
            pipelines = await uow.pipelines.using(data_source_id)
            if pipelines:
                raise DataSourceInUse(
                    f"{pipelines} pipeline(s) use this data source; change or delete them first"
                )
            await uow.data_sources.delete(organization_id, data_source_id)
            for reference in data_source.secrets.values():
                await uow.secrets.delete(organization_id, reference)
            await uow.commit()
