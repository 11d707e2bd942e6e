"""Every connector kind, by ``DataSourceKind``: the one list a new kind is added to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thedata.adapters.connectors.file import FILE
from thedata.adapters.connectors.kind import ConnectorKind
from thedata.adapters.connectors.postgres import POSTGRES
from thedata.domain.data_sources import DataSourceKind

CONNECTOR_KINDS: Mapping[DataSourceKind, ConnectorKind[Any]] = {
    kind.kind: kind for kind in (POSTGRES, FILE)
}
