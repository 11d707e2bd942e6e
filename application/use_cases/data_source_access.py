"""What the data-source use cases share: finding one, and fetching or dropping its secrets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from uuid import UUID

from thedata.application.errors import DependencyUnavailable
from thedata.application.ports import UnitOfWork
from thedata.application.ports.secrets import SecretStore
from thedata.domain.data_sources import DataSource, DataSourceNotFound, secret_reference

MASK = "***"


async def find_data_source(
    uow: UnitOfWork, organization_id: UUID, data_source_id: UUID
) -> DataSource:
    """The organization's data source; ``DataSourceNotFound`` otherwise."""
    data_source = await uow.data_sources.get(organization_id, data_source_id)
    if data_source is None:
        raise DataSourceNotFound(f"data source {data_source_id} not found")
    return data_source


async def secrets_of(store: SecretStore, data_source: DataSource) -> dict[str, str]:
    """The data source's secret fields, decrypted, for its connector."""
    return {
        field: (
            await store.get(data_source.organization_id, secret_reference(data_source.id, field))
        ).decode()
        for field in data_source.secret_fields_set
    }


async def forget_secrets(
    store: SecretStore, organization_id: UUID, data_source_id: UUID, fields: Iterable[str]
) -> None:
    """Delete the data source's secrets; an unreachable store leaves them (sealed) behind."""
    for field in fields:
        with contextlib.suppress(DependencyUnavailable):
            await store.delete(organization_id, secret_reference(data_source_id, field))


def without_secrets(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with every secret value masked (a driver may quote what it was given)."""
    for value in secrets.values():
        if value:
            text = text.replace(value, MASK)
    return text
