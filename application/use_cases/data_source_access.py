"""What the data-source use cases share: finding one, and reading its secrets."""

from __future__ import annotations

from uuid import UUID

from thedata.application.ports import UnitOfWork
from thedata.application.ports.secrets import SecretStore
from thedata.domain.data_sources import DataSource, DataSourceNotFound


async def find_data_source(
    uow: UnitOfWork, organization_id: UUID, data_source_id: UUID, *, lock: bool = False
) -> DataSource:
    """The organization's data source (held against concurrent changes with ``lock``);
    ``DataSourceNotFound`` otherwise."""
    data_source = await uow.data_sources.get(organization_id, data_source_id, lock=lock)
    if data_source is None:
        raise DataSourceNotFound(f"data source {data_source_id} not found")
    return data_source


async def secrets_of(store: SecretStore, data_source: DataSource) -> dict[str, str]:
    """The data source's secret fields, decrypted, for its connector."""
    return {
        field: (await store.get(data_source.organization_id, reference)).decode()
        for field, reference in data_source.secrets.items()
    }
