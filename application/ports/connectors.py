"""Connectors: how the service talks to the systems data sources point at.

``ConnectorFactory`` validates a kind's config and builds a ``Connector`` for
checks and discovery, and the ``StreamReader`` / ``StreamWriter`` that move
data (``ports.streams``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from attrs import frozen

from thedata.application.ports.streams import StreamReader, StreamWriter
from thedata.domain.data_sources import DataSourceKind


@frozen
class FieldSchema:
    """A column or field of a stream, with a type name of the source system."""

    name: str
    type: str


@frozen
class StreamSchema:
    """A stream a source offers: a table, or a file."""

    name: str
    fields: tuple[FieldSchema, ...]
    primary_key: tuple[str, ...] | None = None


@frozen
class ValidatedConfig:
    """A kind's config split into what may be shown and what is secret.

    ``secrets`` holds the secret fields given a value; ``cleared`` those given
    ``null`` (to be forgotten). ``target`` is the part of ``config`` that says
    where the connector connects (host, port, database and user; a folder):
    when it changes, stored secrets must not follow it there.
    """

    config: Mapping[str, Any]
    secrets: Mapping[str, str]
    target: Mapping[str, Any]
    cleared: frozenset[str] = frozenset()


class Connector(Protocol):
    """One data source's connector.

    Every call raises ``ConnectorMisconfigured`` when the config cannot work
    (retrying will not help) and ``ConnectorFailed`` when the system cannot be
    reached now. Messages never carry a secret nor echo a secret-bearing field.
    A call's work is bounded (bytes, memory, time): when the awaiting task is
    cancelled, the work stops too.
    """

    async def check(self) -> None:
        """Connect and do the least possible (``SELECT 1``, list the folder)."""
        ...

    async def discover(self) -> Sequence[StreamSchema]:
        """The streams the source offers, with their fields and primary keys."""
        ...


class ConnectorFactory(Protocol):
    """Validates configs and builds connectors, by kind."""

    def validate(
        self, organization_id: UUID, kind: DataSourceKind, config: Mapping[str, Any]
    ) -> ValidatedConfig:
        """The kind's config, checked for the organization (its own data root, say);
        ``InvalidInput`` with ``/config/...`` pointers if not."""
        ...

    def connector(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> Connector:
        """A connector for the organization's validated config and its secrets."""
        ...

    def reader(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamReader:
        """The kind's stream reader (``StreamFailed`` if the kind cannot be read)."""
        ...

    def writer(
        self,
        organization_id: UUID,
        kind: DataSourceKind,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> StreamWriter:
        """The kind's stream writer (``StreamFailed`` if the kind cannot be written)."""
        ...
