"""Validating configs and building connectors, by kind."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from thedata.adapters.connectors.configs import FileConfig, PostgresConfig
from thedata.adapters.connectors.files import FileConnector, folder_under_root
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.adapters.connectors.postgres import PostgresConnector
from thedata.application.ports import Connector, ValidatedConfig
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import FieldError, InvalidInput

_SCHEMAS: dict[DataSourceKind, type[msgspec.Struct]] = {
    DataSourceKind.POSTGRES: PostgresConfig,
    DataSourceKind.FILE: FileConfig,
}


# msgspec says "<message> - at `$.a.b[0]`", and names a missing or unknown field inside it
_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def _invalid(error: msgspec.ValidationError) -> InvalidInput:
    located = _LOCATED.match(str(error))
    message = located["message"] if located else str(error)
    segments = [a or b for a, b in _SEGMENT.findall(located["path"] or "")] if located else []
    named = _NAMED_FIELD.search(message)
    if named:
        segments.append(named[1])
    pointer = "/config" + "".join(f"/{segment}" for segment in segments)
    return InvalidInput("the config is invalid", [FieldError(pointer, message)])


class DefaultConnectorFactory:
    """Connectors for ``postgres`` and ``file`` data sources, under one network policy."""

    def __init__(self, data_root: Path, policy: NetworkPolicy, connect_timeout: float) -> None:
        self._root, self._policy, self._connect_timeout = data_root, policy, connect_timeout

    def validate(self, kind: DataSourceKind, config: Mapping[str, Any]) -> ValidatedConfig:
        try:
            parsed = msgspec.convert(dict(config), _SCHEMAS[kind])
        except msgspec.ValidationError as e:
            raise _invalid(e) from None
        values = msgspec.structs.asdict(parsed)
        if isinstance(parsed, FileConfig):
            folder_under_root(self._root, parsed.path)
        secrets = {
            field: values.pop(field)
            for field in kind.secret_fields
            if values.get(field) is not None
        }
        for field in kind.secret_fields:
            values.pop(field, None)
        return ValidatedConfig(values, secrets)

    def connector(
        self, kind: DataSourceKind, config: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> Connector:
        if kind is DataSourceKind.POSTGRES:
            parsed = msgspec.convert(dict(config), PostgresConfig)
            return PostgresConnector(
                parsed, secrets.get("password"), self._policy, self._connect_timeout
            )
        return FileConnector(msgspec.convert(dict(config), FileConfig), self._root)
