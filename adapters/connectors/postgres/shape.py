"""A source table as the catalog has it: the stream's ``Shape`` and what reading it needs.

Types are ``format_type``'s spelling, read with the search path pinned to
``pg_catalog`` so that a shape read now and one read in the snapshot of a
later read spell every type alike (a type outside ``pg_catalog`` is always
schema-qualified). Only the columns the user may read are part of the shape,
as in discovery. Besides the shape, a read needs each column's base type (a
domain's underlying type, which psycopg knows how to decode) and the type to
cast a stored position's text back to.
"""

from __future__ import annotations

from typing import Any

import psycopg
from attrs import frozen
from psycopg import sql

from thedata.adapters.connectors.names import identifier
from thedata.adapters.connectors.postgres.errors import PRIVILEGE
from thedata.application.ports.streams import Column, Shape, StreamFailed

Connection = psycopg.AsyncConnection[Any]

PINNED_PATH = "SET search_path = pg_catalog, pg_temp"
"""Type spellings depend on the search path; the reader's sessions all use this one."""

READABLE = ("r", "p", "v", "m", "f")
"""Tables, partitioned tables, views, materialized views and foreign tables."""
VERSIONED = ("r", "p", "m")
"""Relations whose rows carry ``xmin`` and ``ctid``: the ones an incremental read can follow."""

_RELATION = """
SELECT c.oid, c.relkind::text, c.relkind = 'r' AND NOT c.relhassubclass,
       has_any_column_privilege(c.oid, 'SELECT')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind::text = ANY (%s)
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       format_type(a.atttypid, -1),  -- no modifier, but bpchar stays bpchar (not character(1))
       (WITH RECURSIVE chain (oid, base) AS (
            SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid
            UNION ALL
            SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t JOIN chain ON t.oid = chain.base
        ) SELECT chain.oid FROM chain WHERE chain.base = 0)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
  AND has_column_privilege(a.attrelid, a.attnum, 'SELECT')
ORDER BY a.attnum
"""
_PRIMARY_KEY = """
SELECT a.attname
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, position)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.position
"""


@frozen
class SourceTable:
    """A readable relation of the source: its shape, and how to read and compare its columns."""

    schema: str
    name: str
    oid: int
    kind: str
    """``pg_class.relkind``: ``r`` table, ``p`` partitioned, ``v`` view, ``m``, ``f``."""
    plain: bool
    """A table without children: ``COPY table TO`` reads exactly what ``SELECT`` would."""
    shape: Shape
    base_types: dict[str, int]
    """Each column's type oid, domains resolved to their base type (for decoding rows)."""
    cast_types: dict[str, str]
    """Each column's type without modifiers (``numeric``, not ``numeric(12,2)``): what a stored
    position's text is cast back to."""

    @property
    def versioned(self) -> bool:
        """Whether rows carry ``xmin`` and ``ctid`` (views and foreign tables do not)."""
        return self.kind in VERSIONED

    @property
    def read_from(self) -> sql.Composable:
        """The relation as a read names it: ``ONLY`` the table when it has no children in the
        read's snapshot (as ``COPY table TO`` reads it), so that a child attached while the
        read runs, which its lock does not stop, stays out."""
        named = sql.Identifier(self.schema, self.name)
        return sql.SQL("ONLY {}").format(named) if self.plain else named


def no_table(schema: str, name: str) -> StreamFailed:
    """The stream names no readable relation of the schema."""
    return StreamFailed(f"the source has no table or view {name!r} in schema {schema!r}")


async def source_table(connection: Connection, schema: str, name: str) -> SourceTable:
    """The relation ``name`` of ``schema`` as the catalog has it now (in the connection's
    snapshot, when a transaction holds one); ``StreamFailed`` when there is none to read."""
    identifier(name, "table")
    kinds = list(READABLE)
    relation = await (await connection.execute(_RELATION, (schema, name, kinds))).fetchone()
    if relation is None:
        raise no_table(schema, name)
    oid, kind, plain, readable = relation
    if not readable:
        raise StreamFailed(f"{PRIVILEGE} (reading {name!r})")
    rows = await (await connection.execute(_COLUMNS, (oid,))).fetchall()
    columns = tuple(Column(str(n), str(typed), bool(nullable)) for n, typed, nullable, _, _ in rows)
    keys = await (await connection.execute(_PRIMARY_KEY, (oid,))).fetchall()
    key = tuple(str(k) for (k,) in keys)
    names = {column.name for column in columns}
    return SourceTable(
        schema=schema,
        name=name,
        oid=int(oid),
        kind=str(kind),
        plain=bool(plain),
        # a key with a column the user may not read is no key the reader can order by
        shape=Shape(columns, key if set(key) <= names else ()),
        base_types={str(n): int(base) for n, _, _, _, base in rows},
        cast_types={str(n): str(cast) for n, _, _, cast, _ in rows},
    )
