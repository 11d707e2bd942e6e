"""What the data-source use cases share: finding one, and reading its secrets."""

from __future__ import annotations

from uuid import UUID

from thedata.application.errors import ConnectorMisconfigured, SecretUnreadable
from thedata.application.ports import UnitOfWork
from thedata.application.ports.secrets import SecretStore
from thedata.domain.data_sources import DataSource, DataSourceNotFound
from thedata.domain.errors import FieldError
from thedata.domain.secrets import SecretNotFound


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
    """The data source's secret fields, decrypted, for its connector.

    A value that is gone, or that the service's keys no longer open, is the
    data source's problem to fix (set it again), not an outage to retry:
    ``ConnectorMisconfigured``, naming the field but never the store's reference.
    """
    values = {}
    for field, reference in data_source.secrets.items():
        try:
            values[field] = (await store.get(data_source.organization_id, reference)).decode()
        except SecretNotFound:
            raise _lost(field, f"the stored {field} is gone; set it again") from None
        except SecretUnreadable:
            message = (
                f"the stored {field} cannot be decrypted with the service's keys; set it again"
            )
            raise _lost(field, message) from None
    return values


def _lost(field: str, message: str) -> ConnectorMisconfigured:
    return ConnectorMisconfigured(message, [FieldError(f"/config/{field}", message)])
