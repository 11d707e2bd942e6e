"""Renaming a data source or changing its config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.ports import (
    Clock,
    ConnectorFactory,
    IdFactory,
    UnitOfWork,
    UnitOfWorkFactory,
    ValidatedConfig,
)
from thedata.application.use_cases.data_source_access import find_data_source
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSource, DataSourceHealth, secret_reference
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class DataSourceChanges:
    """A new name, and config fields to change (the others keep their values).

    A secret field given a value replaces the stored secret; given ``None``, it
    is forgotten; left out, it is kept, unless the change points the data
    source somewhere else.
    """

    name: str | None = None
    config: Mapping[str, Any] | None = None


class UpdateDataSource:
    """Apply the changes, all or nothing, with the data source locked against concurrent ones.

    The changed config is validated whole, as on create. Stored secrets never
    follow the data source to a new place: when a change of the target (host,
    port, database, user, sslmode; a folder) brings no new value for a secret, the old
    one is forgotten, so nobody who may edit a data source can send its
    password to a server of their choosing. A changed config also resets the
    data source's health: the old circuit said nothing about it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        connectors: ConnectorFactory,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._connectors = connectors

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
            data_source = await find_data_source(uow, organization_id, data_source_id, lock=True)
            if name is not None:
                data_source.name = name
            if changes.config is not None:
                merged = {**data_source.config, **changes.config}
                validated = self._connectors.validate(organization_id, data_source.kind, merged)
                await self._replace_secrets(uow, data_source, validated)
                data_source.config = validated.config
                data_source.health = DataSourceHealth()
                await uow.data_sources.record_health(data_source.id, data_source.health)
            data_source.updated_at = self._clock.now()
            await uow.data_sources.update(data_source)
            await uow.commit()
        return data_source

    async def _replace_secrets(
        self, uow: UnitOfWork, data_source: DataSource, validated: ValidatedConfig
    ) -> None:
        moved = any(data_source.config.get(k) != v for k, v in validated.target.items())
        kept = {
            field: reference
            for field, reference in data_source.secrets.items()
            if not moved and field not in validated.secrets and field not in validated.cleared
        }
        fresh = {
            field: secret_reference(data_source.id, field, self._ids.new_id())
            for field in validated.secrets
        }
        for field, value in validated.secrets.items():
            await uow.secrets.put(data_source.organization_id, fresh[field], value.encode())
        for field, reference in data_source.secrets.items():
            if field not in kept:
                await uow.secrets.delete(data_source.organization_id, reference)
        data_source.secrets = {**kept, **fresh}
