"""Connectors: how the service talks to the systems data sources point at.

``ConnectorFactory`` validates a kind's config and builds a ``Connector`` for
checks and discovery. ``SourceReader`` and ``DestinationWriter`` are the shape
runs will use (reading batches after a cursor; writing with append, upsert or
atomic-replace semantics); they are designed here so that runs need no new
port, and are implemented with the run execution.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from attrs import frozen

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


@frozen
class RecordBatch:
    """Rows read from a stream, and the highest cursor value among them."""

    rows: Sequence[Mapping[str, Any]]
    cursor: Any | None


class WriteMode(enum.Enum):
    """How a batch lands in its destination table."""

    APPEND = "append"
    UPSERT = "upsert"
    """Insert, or replace the row with the same primary key."""
    REPLACE = "replace"
    """Fill a staging table; ``commit`` swaps it in atomically."""


class SourceReader(Protocol):
    """Reads a stream in batches, after a cursor (for the runs that come next)."""

    def read(
        self, stream: str, *, cursor_field: str | None, after: Any | None, batch_size: int
    ) -> AsyncIterator[RecordBatch]:
        """Batches in cursor order (all rows when ``cursor_field`` is ``None``)."""
        ...


class DestinationWriter(Protocol):
    """Writes batches so that a retried run leaves no duplicate and loses no row."""

    async def prepare(self, table: str, schema: StreamSchema, mode: WriteMode) -> None:
        """Create the table (or, for ``REPLACE``, its staging table)."""
        ...

    async def write(
        self, table: str, batch: RecordBatch, mode: WriteMode, primary_key: Sequence[str]
    ) -> int:
        """Write one batch; the number of rows written."""
        ...

    async def commit(self, table: str, mode: WriteMode) -> None:
        """Make what was written visible (swap the staging table in for ``REPLACE``)."""
        ...
