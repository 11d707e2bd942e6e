"""A read's ``COPY ... TO STDOUT`` in each frame format: its statement, and how its output is cut.

CSV is the server's own ``FORMAT csv``. JSON Lines is ``to_json`` of each row,
sent through a one-column CSV whose quote and delimiter are the control
characters ``\\x01`` and ``\\x02``: the server quotes a CSV field only when it
holds the quote, the delimiter, a line break, or nothing, or is ``\\.``, and
``to_json`` text never does. It escapes every control character inside
strings, keys (column names) included, so none appears raw in its output;
the one exception is a ``json`` value, which it embeds as stored, and whose
line breaks can only be whitespace (PostgreSQL refuses raw control characters
inside a JSON string). When a column may hold one (``json``, ``json[]``, or a
user type other than an enum, which may nest either), line breaks are turned
into spaces, which keeps every value; otherwise the text is left as it is
(turning them cost 5 to 20% more server time on the benchmark table). Either
way each row is one line, which ``copy_out.TextCopyOut`` checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from thedata.adapters.connectors.postgres.copy_out import (
    BinaryCopyOut,
    RowsCopyOut,
    TextCopyOut,
    empty_payload,
    empty_rows,
    empty_text,
)
from thedata.adapters.connectors.postgres.copying import JSON_LINES_CSV
from thedata.adapters.connectors.postgres.cursor import IncrementalSql
from thedata.adapters.connectors.postgres.session import Connection
from thedata.adapters.connectors.postgres.shape import SourceTable
from thedata.adapters.connectors.postgres.tables import FIRST_USER_OID
from thedata.application.ports.streams import FrameFormat, ReadPlan

_OPTIONS = {
    FrameFormat.POSTGRES_BINARY: sql.SQL("FORMAT binary"),
    FrameFormat.ROWS: sql.SQL("FORMAT text"),
    FrameFormat.CSV: sql.SQL("FORMAT csv"),
    FrameFormat.JSON_LINES: JSON_LINES_CSV,
}
_JSON, _JSON_ARRAY = 114, 199
_ENUMS = "SELECT count(*) FROM pg_catalog.pg_type WHERE oid = ANY (%s) AND typtype = 'e'"
# r.*: the whole row even when a column is named r (a bare r would be that column)
_ROW_JSON = sql.SQL("to_json(r.*)::text")
_ONE_LINE = sql.SQL("replace(replace(to_json(r.*)::text, E'\\n', ' '), E'\\r', ' ')")


async def may_break_lines(connection: Connection, table: SourceTable, names: Sequence[str]) -> bool:
    """Whether ``to_json`` of the columns ``names`` may hold a line break (a ``json`` value,
    as stored). Asks the catalog only when a column has a user type."""
    types = {table.base_types[name] for name in names}
    if types & {_JSON, _JSON_ARRAY}:
        return True
    users = [oid for oid in types if oid >= FIRST_USER_OID]
    if not users:
        return False
    found = await (await connection.execute(_ENUMS, (users,))).fetchone()
    return found is None or int(found[0]) != len(users)


def copy_out(select: sql.Composable, frame_format: FrameFormat, *, one_line: bool) -> sql.Composed:
    """``COPY (select) TO STDOUT`` in ``frame_format``; for JSON Lines, each row ``to_json``,
    its line breaks turned into spaces when ``one_line``."""
    if frame_format is FrameFormat.JSON_LINES:
        select = sql.SQL("SELECT {} FROM ({}) r").format(
            _ONE_LINE if one_line else _ROW_JSON, select
        )
    return sql.SQL("COPY ({}) TO STDOUT ({})").format(select, _OPTIONS[frame_format])


def full_copy(table: SourceTable, plan: ReadPlan, *, one_line: bool) -> sql.Composed:
    """The ``COPY`` of a full read: of the table itself when that reads what a ``SELECT`` would
    (no children) and no ``to_json`` is needed, else of a query."""
    names = sql.SQL(", ").join(map(sql.Identifier, plan.shape.names))
    target = sql.Identifier(table.schema, table.name)
    if table.plain and plan.format is not FrameFormat.JSON_LINES:
        return sql.SQL("COPY {} ({}) TO STDOUT ({})").format(target, names, _OPTIONS[plan.format])
    select = sql.SQL("SELECT {} FROM {}").format(names, table.read_from)
    return copy_out(select, plan.format, one_line=one_line)


Out = BinaryCopyOut | TextCopyOut | RowsCopyOut


def out_of(
    connection: Connection, copy: psycopg.AsyncCopy, table: SourceTable, plan: ReadPlan
) -> Out:
    """How the output of a read's ``COPY`` is cut into batches, for the plan's format."""
    if plan.format is FrameFormat.POSTGRES_BINARY:
        return BinaryCopyOut(connection, len(plan.shape.columns))
    if plan.format is FrameFormat.ROWS:
        return RowsCopyOut(copy, [table.base_types[name] for name in plan.shape.names])
    return TextCopyOut(connection, lines=plan.format is FrameFormat.JSON_LINES)


class Statements:
    """The ``COPY`` statements of an incremental read in the plan's format."""

    def __init__(self, queries: IncrementalSql, plan: ReadPlan, one_line: bool) -> None:
        self.queries, self._plan, self._one_line = queries, plan, one_line

    def copy(self, *, late: bool) -> sql.Composed:
        """The late rows, or the rows after the position, in order."""
        names, frame_format = self._plan.shape.names, self._plan.format
        if frame_format in (FrameFormat.POSTGRES_BINARY, FrameFormat.ROWS):
            return self.queries.copy(
                names, late=late, binary=frame_format is FrameFormat.POSTGRES_BINARY
            )
        select = self.queries.select(names, late=late)
        return copy_out(select, frame_format, one_line=self._one_line)


def empty(frame_format: FrameFormat) -> AsyncIterator[Any]:
    """A batch's frames of no rows, in ``frame_format``."""
    if frame_format is FrameFormat.POSTGRES_BINARY:
        return empty_payload()
    if frame_format is FrameFormat.ROWS:
        return empty_rows()
    return empty_text()
