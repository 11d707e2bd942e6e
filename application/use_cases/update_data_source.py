"""Renaming a data source or changing its config; a secret left out is kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.ports import Clock, ConnectorFactory, UnitOfWorkFactory
from thedata.application.ports.secrets import SecretStore
from thedata.application.use_cases.data_source_access import find_data_source
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSource, DataSourceHealth, secret_reference
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class DataSourceChanges:
    """A new name, and config fields to change (the others keep their values)."""

    name: str | None = None
    config: Mapping[str, Any] | None = None


class UpdateDataSource:
    """Apply the changes; a secret field in the config replaces the stored secret.

    The changed config is validated whole, as on create. A changed config
    resets the data source's health: the old circuit said nothing about it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        connectors: ConnectorFactory,
        secrets: SecretStore,
    ) -> None:
        self._uow, self._clock = uow, clock
        self._connectors, self._secrets = connectors, secrets

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        data_source_id: UUID,
        changes: DataSourceChanges,
    ) -> DataSource:
        """The updated data source."""
        authorize(principal, organization_id, Action.WRITE)
        name = check_display_name(changes.name) if changes.name is not None else None
        async with self._uow() as uow:
            data_source = await find_data_source(uow, organization_id, data_source_id)
            if name is not None:
                data_source.name = name
            if changes.config is not None:
                merged = {**data_source.config, **changes.config}
                validated = self._connectors.validate(data_source.kind, merged)
                for field, value in validated.secrets.items():
                    reference = secret_reference(data_source.id, field)
                    await self._secrets.put(organization_id, reference, value.encode())
                data_source.config = validated.config
                data_source.secret_fields_set = tuple(
                    sorted(set(data_source.secret_fields_set) | set(validated.secrets))
                )
                data_source.health = DataSourceHealth()
                await uow.data_sources.record_health(data_source.id, data_source.health)
            data_source.updated_at = self._clock.now()
            await uow.data_sources.update(data_source)
            await uow.commit()
        return data_source
