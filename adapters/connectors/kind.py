"""What a connector kind is: its config schema, its secret and target fields, its connector.

Each kind is one package under ``adapters/connectors/<kind>/`` that exports a
``ConnectorKind``; ``registry.CONNECTOR_KINDS`` lists them. The factory, the
HTTP schemas and the docs all read the registry, so a kind is added in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
from attrs import frozen

from thedata.adapters.connectors.control_database import ControlDatabase
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.application.ports import Connector, StreamReader, StreamWriter
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import FieldError

ConfigT = TypeVar("ConfigT", bound=msgspec.Struct)


@frozen
class Environment:
    """What the factory gives every kind's connectors."""

    data_root: Path
    """Holds one folder per organization; a tenant's paths are relative to its own."""
    policy: NetworkPolicy
    timeout: float
    """Seconds any one call may take; blocking work stops by itself after it."""
    control: ControlDatabase | None
    """The service's own database, never a target (``None``: there is none to protect)."""

    def organization_root(self, organization_id: UUID) -> Path:
        """The folder an organization's ``file`` data sources live in."""
        return self.data_root / str(organization_id)


def no_problems(
    _environment: Environment, _organization_id: UUID, _config: Any
) -> list[FieldError]:
    """The default check beyond the schema: nothing to add."""
    return []


@frozen
class ConnectorKind(Generic[ConfigT]):
    """One kind of data source, as the factory, the HTTP API and the docs see it."""

    kind: DataSourceKind
    config: type[ConfigT]
    """A msgspec Struct with ``forbid_unknown_fields=True``: the HTTP schema and the validator."""
    summary: str
    """One sentence: the HTTP API's description of the kind's create body."""
    secret_fields: tuple[str, ...]
    """Config fields kept in the secret store, never stored with the config nor returned."""
    target_fields: tuple[str, ...]
    """Config fields that decide where the connector connects; stored secrets do not follow
    a change of any of them."""
    connector: Callable[[Environment, UUID, ConfigT, Mapping[str, str]], Connector]
    """Builds the connector for an organization's validated config and its secrets."""
    problems: Callable[[Environment, UUID, ConfigT], Sequence[FieldError]] = no_problems
    """Checks the schema cannot express; pointers relative to the config (``/host``)."""
    reader: Callable[[Environment, UUID, ConfigT, Mapping[str, str]], StreamReader] | None = None
    """Builds the kind's stream reader; ``None`` while the kind cannot be read."""
    writer: Callable[[Environment, UUID, ConfigT, Mapping[str, str]], StreamWriter] | None = None
    """Builds the kind's stream writer; ``None`` while the kind cannot be written."""
