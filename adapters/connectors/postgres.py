"""The PostgreSQL connector: checks and discovery over a direct connection."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.conninfo import make_conninfo

from thedata.adapters.connectors.configs import PostgresConfig
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.application.errors import ConnectorFailed
from thedata.application.ports import FieldSchema, StreamSchema

_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = %s AND t.table_type IN ('BASE TABLE', 'VIEW')
ORDER BY c.table_name, c.ordinal_position
"""
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


def _describe(error: psycopg.Error) -> str:
    # libpq's messages name host and port, never the password; keep the first line
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class PostgresConnector:
    """Connects to the resolved, policy-checked address of the configured host."""

    def __init__(
        self,
        config: PostgresConfig,
        password: str | None,
        policy: NetworkPolicy,
        connect_timeout: float,
    ) -> None:
        self._config, self._password = config, password
        self._policy, self._connect_timeout = policy, connect_timeout

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        c = self._config
        address = await self._policy.resolve(c.host, c.port)
        conninfo = make_conninfo(
            host=c.host,  # kept for TLS certificate checks
            hostaddr=address,  # the address the policy allowed: DNS is not asked again
            port=c.port,
            dbname=c.database,
            user=c.user,
            password=self._password or "",
            sslmode=c.sslmode,
            connect_timeout=max(1, round(self._connect_timeout)),
            application_name="thedata",
        )
        try:
            return await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        except psycopg.Error as e:
            raise ConnectorFailed(_describe(e)) from None

    async def check(self) -> None:
        async with await self._connect() as connection:
            try:
                await connection.execute("SELECT 1")
            except psycopg.Error as e:
                raise ConnectorFailed(_describe(e)) from None

    async def discover(self) -> Sequence[StreamSchema]:
        async with await self._connect() as connection:
            try:
                columns = await (
                    await connection.execute(_COLUMNS, (self._config.schema,))
                ).fetchall()
                keys = await (
                    await connection.execute(_PRIMARY_KEYS, (self._config.schema,))
                ).fetchall()
            except psycopg.Error as e:
                raise ConnectorFailed(_describe(e)) from None
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
