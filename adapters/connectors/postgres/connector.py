"""The PostgreSQL connector: checks and discovery over one hardened, policy-checked connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

import psycopg

from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.postgres.config import PostgresConfig
from thedata.adapters.connectors.postgres.errors import query_error
from thedata.adapters.connectors.postgres.session import Connection, connect
from thedata.application.errors import ConnectorMisconfigured
from thedata.application.ports import FieldSchema, StreamSchema

_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = %s AND t.table_type IN ('BASE TABLE', 'VIEW')
ORDER BY c.table_name, c.ordinal_position
LIMIT %s
"""
MOST_COLUMNS = 100_000
"""Columns one discovery reports, over all tables: a schema with more is refused, not sent."""
_PRIMARY_KEYS = """
SELECT tc.table_name, kcu.column_name
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_name = tc.constraint_name
 AND kcu.table_schema = tc.table_schema
 AND kcu.table_name = tc.table_name
WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s
ORDER BY tc.table_name, kcu.ordinal_position
"""


class PostgresConnector:
    """Connects to the resolved, allowed address of the configured host, never to the
    control database, with no credential but the data source's own."""

    def __init__(
        self, environment: Environment, config: PostgresConfig, password: str | None
    ) -> None:
        self._environment, self._config, self._password = environment, config, password

    async def _connect(self) -> Connection:
        return await connect(self._environment, self._config, self._password, autocommit=True)

    async def check(self) -> None:
        async with await self._connect() as connection:
            try:
                await connection.execute("SELECT 1")
            except psycopg.Error as e:
                raise query_error(e) from None

    async def discover(self) -> Sequence[StreamSchema]:
        async with await self._connect() as connection:
            try:
                columns = await (
                    await connection.execute(_COLUMNS, (self._config.schema, MOST_COLUMNS + 1))
                ).fetchall()
                keys = await (
                    await connection.execute(_PRIMARY_KEYS, (self._config.schema,))
                ).fetchall()
            except psycopg.Error as e:
                raise query_error(e) from None
        if len(columns) > MOST_COLUMNS:
            raise ConnectorMisconfigured(
                f"the schema has more than {MOST_COLUMNS} columns in all; choose a narrower one"
            )
        fields: dict[str, list[FieldSchema]] = {}
        for table, column, data_type in columns:
            fields.setdefault(str(table), []).append(FieldSchema(str(column), str(data_type)))
        primary: dict[str, list[str]] = {}
        for table, column in keys:
            primary.setdefault(str(table), []).append(str(column))
        return [
            StreamSchema(
                table, tuple(table_fields), tuple(primary[table]) if table in primary else None
            )
            for table, table_fields in fields.items()
        ]


def postgres_connector(
    environment: Environment,
    _organization_id: UUID,
    config: PostgresConfig,
    secrets: Mapping[str, str],
) -> PostgresConnector:
    """The ``postgres`` kind's connector (databases are not per organization, the policy is)."""
    return PostgresConnector(environment, config, secrets.get("password"))
