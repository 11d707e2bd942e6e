"""The ``postgres`` kind: a PostgreSQL database, reached over TCP."""

from thedata.adapters.connectors.kind import ConnectorKind
from thedata.adapters.connectors.postgres.config import (
    SECRET_FIELDS,
    TARGET_FIELDS,
    PostgresConfig,
    config_problems,
)
from thedata.adapters.connectors.postgres.connector import PostgresConnector, postgres_connector
from thedata.adapters.connectors.postgres.conninfo import check_libpq, connection_parameters
from thedata.adapters.connectors.postgres.reader import PostgresStreamReader, postgres_reader
from thedata.adapters.connectors.postgres.writer import PostgresStreamWriter, postgres_writer
from thedata.domain.data_sources import DataSourceKind

POSTGRES: ConnectorKind[PostgresConfig] = ConnectorKind(
    kind=DataSourceKind.POSTGRES,
    config=PostgresConfig,
    summary="A PostgreSQL database; `config.password` is stored sealed and never returned.",
    secret_fields=SECRET_FIELDS,
    target_fields=TARGET_FIELDS,
    connector=postgres_connector,
    problems=config_problems,
    reader=postgres_reader,
    writer=postgres_writer,
)

__all__ = [
    "POSTGRES",
    "PostgresConfig",
    "PostgresConnector",
    "PostgresStreamReader",
    "PostgresStreamWriter",
    "check_libpq",
    "connection_parameters",
]
