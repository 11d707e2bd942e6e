"""Names and type spellings every kind judges alike: what may name a table or a column, and
which type spellings are PostgreSQL's (the type vocabulary every kind's shapes speak).
Judged before use, never truncated, never split.

Table and column names are quoted whole with ``psycopg.sql.Identifier`` (a dot
is part of the name). Type spellings come from another server or a file and
are written into DDL, so they must be what ``format_type`` prints, token by
token (words, quoted names, a schema dot, a type modifier, ``[]``), and nothing
else: no statement can hide in one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from thedata.application.ports.streams import MAX_IDENTIFIER_BYTES, Column, Shape, StreamFailed

_TYPE_TOKEN = re.compile(
    r"""\s*(?:
        [A-Za-z_][A-Za-z0-9_$]*          # a word: integer, timestamp, with, time, zone
      | "(?:[^"\x00]|"")+"               # a quoted name, "" for a quote
      | \.                               # schema.type
      | \(\s*-?\d+(?:\s*,\s*-?\d+)*\s*\) # a type modifier: (12,2)
      | \[\d*\]                          # an array
    )""",
    re.VERBOSE,
)
_LONGEST_TYPE = 300


def identifier(name: str, what: str) -> str:
    """``name`` if PostgreSQL can hold it as one identifier as it is; else ``StreamFailed``."""
    if not name or "\x00" in name:
        raise StreamFailed(f"the {what} name {name!r} is empty or holds a NUL character")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise StreamFailed(
            f"the {what} name {name!r} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes "
            "(names are refused, never shortened)"
        )
    return name


def type_spelling(column: Column) -> str:
    """The column's type as DDL may contain it (``format_type``'s tokens only)."""
    spelling, position = column.type.strip(), 0
    while position < len(spelling) and len(spelling) <= _LONGEST_TYPE:
        token = _TYPE_TOKEN.match(spelling, position)
        if token is None:
            break
        position = token.end()
    if not spelling or position != len(spelling):
        raise StreamFailed(f"the column {column.name!r} has a type PostgreSQL cannot name safely")
    return spelling


def checked_shape(shape: Shape, table: str) -> Shape:
    """``shape`` if every name fits and no column is named twice; else ``StreamFailed``."""
    identifier(table, "table")
    if not shape.columns:
        raise StreamFailed(f"the stream for table {table!r} has no columns")
    seen: set[str] = set()
    for column in shape.columns:
        identifier(column.name, "column")
        type_spelling(column)
        if column.name in seen:
            raise StreamFailed(f"the column {column.name!r} appears twice")
        seen.add(column.name)
    _known(shape.primary_key, seen)
    return shape


def _known(key: Sequence[str], names: set[str]) -> None:
    for name in key:
        if name not in names:
            raise StreamFailed(f"the primary key names {name!r}, which is not a column")
