"""A destination table as a stream's shape needs it: created with the source's types, evolved
only by adding columns, and refused (naming the column) when the source dropped or retyped one.

Types are compared as ``format_type`` spells them, a type outside ``pg_catalog`` always
with its schema (as the reader spells it). Columns the destination
has and the source no longer sends, or sends with another type, fail the
stream: writing on would silently leave NULLs or change meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from attrs import frozen
from psycopg import sql

from thedata.adapters.connectors.names import type_spelling
from thedata.application.ports.streams import Column, Shape, StreamFailed

Connection = psycopg.AsyncConnection[Any]

FIRST_USER_OID = 16384
"""PostgreSQL's ``FirstNormalObjectId``: types below it are built in, the same on every server."""

_RELATION = """
SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_COLUMNS = """
SELECT a.attname,
    CASE WHEN n.nspname <> 'pg_catalog' AND pg_catalog.pg_type_is_visible(a.atttypid)
    THEN pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.format_type(a.atttypid, a.atttypmod)
    ELSE pg_catalog.format_type(a.atttypid, a.atttypmod) END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
"""Columns with types spelled as sources spell them (``format_type`` under the reader's pinned
``search_path``: a type outside ``pg_catalog`` with its schema), whatever this session's path."""
_KEYS = """
SELECT i.indisprimary, array_agg(a.attname ORDER BY a.attname)
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indisprimary
"""
_TYPE = "SELECT to_regtype(%s)::oid"
_TYPES = "SELECT to_regtype(t)::oid FROM unnest(%s::text[]) WITH ORDINALITY AS u (t, n) ORDER BY n"


def columns_sql(shape: Shape) -> sql.Composed:
    """``(a type, b type, ...)`` for CREATE TABLE, with the shape's types."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(type_spelling(c)))
        for c in shape.columns
    )


def names_sql(names: Sequence[str]) -> sql.Composed:
    """``a, b, c``, each quoted."""
    return sql.SQL(", ").join(map(sql.Identifier, names))


def upsert_sql(table: sql.Composable, shape: Shape, source: sql.Composable) -> sql.Composed:
    """Insert ``source``'s rows into ``table``, a row with a key already there replacing it."""
    names = names_sql(shape.names)
    others = [name for name in shape.names if name not in shape.primary_key]
    action = (
        sql.SQL("UPDATE SET {}").format(
            sql.SQL(", ").join(
                sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name)) for name in others
            )
        )
        if others
        else sql.SQL("NOTHING")
    )
    # the source's values, even into an identity column; in key order, so the key's index and
    # (for a table loaded in key order) the heap are walked forwards rather than at random: an
    # upsert of 10,000 rows changed at random in 1M takes half the time. A key the batch holds
    # twice (a changelog's file) keeps its last row: ``source`` is a fresh heap, filled in
    # arrival order, so the largest ctid came last (ON CONFLICT could not take both)
    key = names_sql(shape.primary_key)
    return sql.SQL(
        "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT DISTINCT ON ({}) {} FROM {}"
        " ORDER BY {}, ctid DESC ON CONFLICT ({}) DO {}"
    ).format(table, names, key, names, source, key, key, action)


async def type_oids(connection: Connection, shape: Shape) -> tuple[int, ...]:
    """Each column's type as the destination knows it; ``StreamFailed`` naming one it does not.

    One round trip; when a spelling does not even parse, each is asked alone to name it.
    """
    spellings = [type_spelling(column) for column in shape.columns]
    try:
        rows = await (await connection.execute(_TYPES, (spellings,))).fetchall()
        found: list[Any] = [row[0] for row in rows]
    except psycopg.errors.SyntaxError:
        found = [await _type_oid(connection, spelling) for spelling in spellings]
    for column, oid in zip(shape.columns, found, strict=True):
        if oid is None:
            raise StreamFailed(
                f"the column {column.name!r} has a type the destination does not know "
                f"({column.type!r})"
            )
    return tuple(int(oid) for oid in found)


async def _type_oid(connection: Connection, spelling: str) -> int | None:
    try:
        row = await (await connection.execute(_TYPE, (spelling,))).fetchone()
    except psycopg.errors.SyntaxError:
        return None
    return None if row is None or row[0] is None else int(row[0])


@frozen
class Table:
    """A table named ``name`` (one identifier, dots and all) in ``schema``."""

    schema: str
    name: str

    @property
    def sql(self) -> sql.Identifier:
        """The quoted, schema-qualified name."""
        return sql.Identifier(self.schema, self.name)

    async def oid(self, connection: Connection) -> int | None:
        """The table's oid (``None``: no such table); ``StreamFailed`` if it is not a table."""
        found = await (await connection.execute(_RELATION, (self.schema, self.name))).fetchone()
        if found is None:
            return None
        if found[1] not in ("r", "p"):
            raise StreamFailed(f"{self.name!r} exists in the destination and is not a table")
        return int(found[0])

    async def columns(self, connection: Connection, oid: int) -> dict[str, str]:
        """The table's columns and their types, in order."""
        rows = await (await connection.execute(_COLUMNS, (oid,))).fetchall()
        return {str(name): str(spelled) for name, spelled in rows}

    async def create(self, connection: Connection, shape: Shape, *, keyed: bool) -> None:
        """Create the table with the shape's columns (and its primary key when ``keyed``)."""
        key = (
            sql.SQL(", PRIMARY KEY ({})").format(names_sql(shape.primary_key))
            if keyed and shape.primary_key
            else sql.SQL("")
        )
        await connection.execute(
            sql.SQL("CREATE TABLE {} ({}{})").format(self.sql, columns_sql(shape), key)
        )

    async def evolve(self, connection: Connection, oid: int, shape: Shape) -> tuple[Column, ...]:
        """Add the columns the source gained; the columns added. ``StreamFailed`` naming a
        column the source dropped or retyped."""
        added = new_columns(self.name, await self.columns(connection, oid), shape)
        for column in added:
            await connection.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    self.sql, sql.Identifier(column.name), sql.SQL(type_spelling(column))
                )
            )
        return added

    async def has_key(self, connection: Connection, oid: int, key: Sequence[str]) -> bool:
        """Whether a unique index covers exactly ``key`` (what ``ON CONFLICT`` needs)."""
        rows = await (await connection.execute(_KEYS, (oid,))).fetchall()
        return any(sorted(columns) == sorted(key) for _primary, columns in rows)

    async def has_primary_key(self, connection: Connection, oid: int) -> bool:
        """Whether the table has a primary key at all."""
        rows = await (await connection.execute(_KEYS, (oid,))).fetchall()
        return any(primary for primary, _columns in rows)

    async def add_primary_key(self, connection: Connection, key: Sequence[str]) -> None:
        """Give the table ``key`` as its primary key (built now, over the rows it holds)."""
        await connection.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(self.sql, names_sql(key))
        )


async def relation_exists(connection: Connection, schema: str, name: str) -> bool:
    """Whether any relation (table, index, view...) named ``name`` is in ``schema``."""
    return await (await connection.execute(_RELATION, (schema, name))).fetchone() is not None


def new_columns(table: str, existing: dict[str, str], shape: Shape) -> tuple[Column, ...]:
    """The shape's columns ``existing`` lacks; ``StreamFailed`` naming a dropped or retyped one."""
    for name, spelled in existing.items():
        column = shape.column(name)
        if column is None:
            raise StreamFailed(
                f"the source no longer has the column {name!r} that table {table!r} holds"
            )
        if type_spelling(column) != spelled:
            raise StreamFailed(
                f"the column {name!r} changed type: the source has {column.type!r}, "
                f"table {table!r} has {spelled!r}"
            )
    return tuple(c for c in shape.columns if c.name not in existing)
