"""Data sources: connections to external systems that pipelines read from and write to."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import define, frozen

from thedata.domain.errors import Conflict, NotFound


class DataSourceKind(enum.Enum):
    """Which connector serves the data source.

    Each kind's config schema, secret fields and target fields belong to its
    connector package (``adapters/connectors/<kind>/``), which a registry maps here.
    """

    POSTGRES = "postgres"
    FILE = "file"

    @property
    def readable(self) -> bool:
        """Whether pipelines may read from this kind."""
        return True

    @property
    def writable(self) -> bool:
        """Whether pipelines may write to this kind."""
        return True


SECRET_REFERENCE_PREFIX = "data-source/"  # noqa: S105 - a name prefix, not a secret


def secret_reference(data_source_id: UUID, field: str, version: UUID) -> str:
    """The name under which one value of a data source's secret field is stored.

    Every new value gets a new ``version``, so a stored value is never
    overwritten: the catalog switches to the new reference when it commits, and
    the old value is deleted after. A crash at any point leaves the catalog
    pointing at a complete value, and at worst a value nothing points at.
    """
    return f"{SECRET_REFERENCE_PREFIX}{data_source_id}/{field}/{version}"


@frozen
class DataSourceHealth:
    """What the last connector calls said about the data source."""

    circuit: str = "closed"
    open_until: datetime | None = None
    """While the circuit is open: until when every process refuses calls to the source."""
    last_check_at: datetime | None = None
    last_error: str | None = None


@define
class DataSource:
    """A configured connection; ``config`` holds no secret.

    ``secrets`` maps each secret field that has a value to the secret store
    reference holding it.
    """

    id: UUID
    organization_id: UUID
    name: str
    kind: DataSourceKind
    config: Mapping[str, Any]
    secrets: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    health: DataSourceHealth = DataSourceHealth()

    @property
    def secret_fields_set(self) -> tuple[str, ...]:
        """The secret fields that have a value, sorted."""
        return tuple(sorted(self.secrets))


class DataSourceNotFound(NotFound):
    """No such data source in the organization."""

    code = "data_source_not_found"


class DataSourceNameTaken(Conflict):
    """Another data source of the organization has this name."""

    code = "data_source_name_taken"


class DataSourceInUse(Conflict):
    """A pipeline reads from or writes to the data source; delete or change it first."""

    code = "data_source_in_use"
