"""A connector factory that connects to nothing: for unit tests and library users.

It splits configs into shown, secret and target fields the way the real kinds
do, remembers every connector it built (with the secrets it was given), and
answers checks and discoveries as the test scripts them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from attrs import define, field

from thedata.application.ports import (
    StreamFailed,
    StreamReader,
    StreamSchema,
    StreamWriter,
    ValidatedConfig,
)
from thedata.domain.data_sources import DataSourceKind

SECRET_FIELDS = {DataSourceKind.POSTGRES: ("password",), DataSourceKind.FILE: ()}
TARGET_FIELDS = {
    DataSourceKind.POSTGRES: ("host", "port", "database", "user", "sslmode"),
    DataSourceKind.FILE: ("path",),
}


@define
class FakeConnector:
    """Answers with ``failure`` raised, or with ``streams``; counts its calls."""

    failure: BaseException | None = None
    streams: Sequence[StreamSchema] = ()
    calls: int = 0

    async def check(self) -> None:
        self.calls += 1
        if self.failure is not None:
            raise self.failure

    async def discover(self) -> Sequence[StreamSchema]:
        await self.check()
        return self.streams


@define
class BuiltConnector:
    """What the factory was asked to build."""

    organization_id: UUID
    kind: DataSourceKind
    config: Mapping[str, Any]
    secrets: Mapping[str, str]


@define
class FakeConnectorFactory:
    """Every config is valid; every connector built shares ``connector``'s script."""

    connector_script: FakeConnector = field(factory=FakeConnector)
    built: list[BuiltConnector] = field(factory=list)
    stream_reader: StreamReader | None = None
    """What ``reader`` hands out (for every data source); ``None``: reading fails."""
    stream_writer: StreamWriter | None = None
    """What ``writer`` hands out (for every data source); ``None``: writing fails."""

    def validate(
        self, organization_id: UUID, kind: DataSourceKind, config: Mapping[str, Any]
    ) -> ValidatedConfig:
        shown = {k: v for k, v in config.items() if k not in SECRET_FIELDS[kind]}
        secrets = {k: str(config[k]) for k in SECRET_FIELDS[kind] if config.get(k) is not None}
        cleared = frozenset(k for k in SECRET_FIELDS[kind] if k in config and config[k] is None)
        target = {k: shown.get(k) for k in TARGET_FIELDS[kind]}
        return ValidatedConfig(shown, secrets, target, cleared)

    def connector(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> FakeConnector:
        self.built.append(BuiltConnector(organization_id, kind, dict(config), dict(secrets)))
        return self.connector_script

    def reader(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamReader:
        if self.stream_reader is None:
            raise StreamFailed("this fake factory was given no stream reader")
        return self.stream_reader

    def writer(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamWriter:
        if self.stream_writer is None:
            raise StreamFailed("this fake factory was given no stream writer")
        return self.stream_writer
