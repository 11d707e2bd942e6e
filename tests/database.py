"""Reading back everything a test database holds, to compare or to search it."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def every_row(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every user table, by ``schema.table``."""
    with psycopg.connect(database_url) as connection:
        tables = connection.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        query = sql.SQL("SELECT * FROM {}.{}")
        return {
            f"{schema}.{table}": connection.execute(
                query.format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()
            for schema, table in tables
        }


def snapshot(database_url: str) -> dict[str, list[str]]:
    """Every table's rows in a comparable form: equal snapshots, unchanged database."""
    return {table: sorted(map(repr, rows)) for table, rows in every_row(database_url).items()}


def every_value_as_bytes(database_url: str) -> bytes:
    """Every column of every row, text and binary alike, to search for a plaintext."""
    return b"\n".join(
        _as_bytes(value)
        for rows in every_row(database_url).values()
        for row in rows
        for value in row
    )


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()
