"""A new data source, its secrets sealed in the secret store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import (
    Clock,
    ConnectorFactory,
    IdFactory,
    UnitOfWorkFactory,
)
from thedata.domain.access import Action
from thedata.domain.data_sources import DataSource, DataSourceKind, secret_reference
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class NewDataSource:
    """A name, a kind, and that kind's config (secret fields included)."""

    name: str
    kind: DataSourceKind
    config: Mapping[str, Any]


class CreateDataSource:
    """Validate the config for its kind, store the secrets sealed and the rest in the catalog.

    The secrets are written through the creating unit of work, so a create that
    fails leaves neither a data source nor its secrets.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        connectors: ConnectorFactory,
        policy: IdentityPolicy,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._connectors, self._policy = connectors, policy

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        command: NewDataSource,
        idempotency: IdempotentRequest[DataSource] | None = None,
    ) -> DataSource:
        """The new data source (without secrets); ``DataSourceNameTaken`` if the name is used."""
        authorize(principal, organization_id, Action.WRITE)
        name = check_display_name(command.name)
        validated = self._connectors.validate(organization_id, command.kind, command.config)
        now = self._clock.now()
        data_source_id = self._ids.new_id()
        references = {
            field: secret_reference(data_source_id, field, self._ids.new_id())
            for field in validated.secrets
        }
        data_source = DataSource(
            id=data_source_id,
            organization_id=organization_id,
            name=name,
            kind=command.kind,
            config=validated.config,
            secrets=references,
            created_at=now,
            updated_at=now,
        )
        ttl = self._policy.idempotency_ttl
        async with creating(self._uow, principal.scope, idempotency, now, ttl) as (uow, commit):
            await uow.data_sources.add(data_source)
            for field, value in validated.secrets.items():
                await uow.secrets.put(organization_id, references[field], value.encode())
            await commit(data_source)
        return data_source
