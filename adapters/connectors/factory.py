"""Validating configs and building connectors, by kind, through the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from thedata.adapters.connectors.control_database import ControlDatabase
from thedata.adapters.connectors.file.layout import warn_about_shared_layout
from thedata.adapters.connectors.kind import ConnectorKind, Environment
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.adapters.connectors.postgres import check_libpq
from thedata.adapters.connectors.registry import CONNECTOR_KINDS
from thedata.adapters.field_errors import field_error, json_pointer
from thedata.application.errors import ConnectorMisconfigured
from thedata.application.ports import (
    Connector,
    StreamFailed,
    StreamReader,
    StreamSchema,
    StreamWriter,
    ValidatedConfig,
)
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import FieldError, InvalidInput

INVALID = "the config is invalid"


class DefaultConnectorFactory:
    """Connectors of every registered kind, under one network policy, never to the control
    database, with each organization confined to its own data folder."""

    def __init__(
        self,
        data_root: Path,
        policy: NetworkPolicy,
        timeout: float,
        control_database: str | ControlDatabase | None,
        kinds: Mapping[DataSourceKind, ConnectorKind[Any]] = CONNECTOR_KINDS,
    ) -> None:
        check_libpq()
        control = (
            ControlDatabase.at(control_database, timeout)
            if isinstance(control_database, str)
            else control_database
        )
        self._environment = Environment(data_root, policy, timeout, control)
        self._kinds = kinds
        warn_about_shared_layout(data_root)

    def _parse(
        self, organization_id: UUID, kind: DataSourceKind, config: Mapping[str, Any]
    ) -> tuple[ConnectorKind[Any], msgspec.Struct]:
        spec = self._kinds[kind]
        try:
            parsed = msgspec.convert(dict(config), spec.config)
        except msgspec.ValidationError as e:
            raise InvalidInput(INVALID, [field_error(e, "/config")]) from None
        problems = spec.problems(self._environment, organization_id, parsed)
        if problems:
            raise InvalidInput(INVALID, [_under_config(p) for p in problems])
        return spec, parsed

    def validate(
        self, organization_id: UUID, kind: DataSourceKind, config: Mapping[str, Any]
    ) -> ValidatedConfig:
        spec, parsed = self._parse(organization_id, kind, config)
        values = msgspec.structs.asdict(parsed)
        secrets = {f: values[f] for f in spec.secret_fields if values.get(f) is not None}
        cleared = frozenset(f for f in spec.secret_fields if f in config and config[f] is None)
        shown = {k: v for k, v in values.items() if k not in spec.secret_fields}
        target = {f: shown[f] for f in spec.target_fields}
        return ValidatedConfig(shown, secrets, target, cleared)

    def connector(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> Connector:
        try:
            spec, parsed = self._stored(organization_id, kind, config)
        except ConnectorMisconfigured as e:
            return _Refusing(e)
        return spec.connector(self._environment, organization_id, parsed, secrets)

    def _stored(
        self, organization_id: UUID, kind: DataSourceKind, config: Mapping[str, Any]
    ) -> tuple[ConnectorKind[Any], msgspec.Struct]:
        """A stored config parsed again; ``ConnectorMisconfigured`` if today's rules refuse it."""
        try:
            return self._parse(organization_id, kind, config)
        except InvalidInput as e:  # a stored config that today's rules refuse
            reasons = "; ".join(f"{error.field}: {error.message}" for error in e.errors)
            raise ConnectorMisconfigured(f"{INVALID} ({reasons})", e.errors) from None

    def reader(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamReader:
        spec, parsed = self._stored(organization_id, kind, config)
        if spec.reader is None:
            raise StreamFailed(f"{kind.value} data sources cannot be read from yet")
        return spec.reader(self._environment, organization_id, parsed, secrets)

    def writer(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamWriter:
        spec, parsed = self._stored(organization_id, kind, config)
        if spec.writer is None:
            raise StreamFailed(f"{kind.value} data sources cannot be written to yet")
        return spec.writer(self._environment, organization_id, parsed, secrets)


def _under_config(problem: FieldError) -> FieldError:
    return FieldError(json_pointer([], "/config") + problem.field, problem.message)


class _Refusing:
    """The connector of a config that cannot work: every call says why."""

    def __init__(self, error: ConnectorMisconfigured) -> None:
        self._error = error

    async def check(self) -> None:
        raise self._error

    async def discover(self) -> Sequence[StreamSchema]:
        raise self._error
