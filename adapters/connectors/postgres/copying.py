"""One batch's frames into one ``COPY ... FROM STDIN``, streamed as they arrive.

Binary COPY and CSV frames pass through untouched, gathered into writes of
about 256 KiB (one write per small read costs a round of the event loop and a
libpq call each). JSON Lines are decoded here, each line into a row of the
destination's columns (``json_lines``), and sent by a text COPY: every value is
read by its column type's input function, as ``json_populate_record`` would read
it, at about twice its speed. Where a column is an array or a composite type the
lines pass through instead, into a one-column temporary table (the same CSV with
control characters as quote and delimiter as the reader's, so the text is taken
as it is), and the server turns each line into a row of the target's own row
type (``json_populate_record``). Rows are encoded once, by psycopg, with the
destination's column types set so that no cast or guess is involved. Either way
nothing accumulates: ``COPY`` writes wait on the socket, which holds the reader
back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg
from attrs import frozen
from psycopg import pq, sql
from psycopg.copy import AsyncLibpqWriter

from thedata.adapters.connectors.postgres.json_lines import JsonLinesRows, lines
from thedata.adapters.connectors.postgres.tables import names_sql
from thedata.application.ports.streams import Batch, FrameFormat, StreamFailed, Written

WRITE_BYTES = 256 * 1024
"""Byte frames are gathered into writes of at least this size."""
LINES_TABLE = sql.Identifier("pg_temp", "_thedata_lines")
"""Where a batch of JSON Lines waits to become rows (emptied before each batch)."""
JSON_LINES_CSV = sql.SQL("FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'")
"""One line, one field, taken as it is: JSON text never holds these control characters raw."""
_OPTIONS = {
    FrameFormat.POSTGRES_BINARY: sql.SQL("FORMAT binary"),
    FrameFormat.CSV: sql.SQL("FORMAT csv"),
}

TEXT_OID, TEXT_ARRAY_OID = 25, 1009

# each type's category and kind, a domain's its base type's, and the oid they are of
_KINDS = (
    "SELECT t.oid, coalesce(b.typcategory, t.typcategory), coalesce(b.typtype, t.typtype),"
    " coalesce(b.oid, t.oid) FROM pg_type t"
    " LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype WHERE t.oid = ANY (%s)"
)


@frozen
class RowEncoding:
    """How rows are encoded for the columns' types: binary COPY when psycopg can dump every
    type in binary, else text COPY (a type it does not know goes as its text form); and what
    kind each type is, for reading JSON Lines (``json_lines``)."""

    binary: bool
    types: tuple[int, ...]
    kinds: tuple[tuple[str, str, int], ...] = ()
    """Per column: the type's category, its kind (``b``ase, ``c``omposite...) and the oid
    they are of (a domain's base type's)."""


async def row_encoding(
    connection: psycopg.AsyncConnection[Any], oids: Sequence[int]
) -> RowEncoding:
    """The encoding for columns of the types ``oids``."""
    adapters = connection.adapters
    rows = await (await connection.execute(_KINDS, (list(oids),))).fetchall()
    found = {int(oid): (str(category), str(kind), int(base)) for oid, category, kind, base in rows}
    kinds = tuple(found.get(oid, ("X", "b", oid)) for oid in oids)

    def dumps(oid: int, form: pq.Format) -> bool:
        try:
            adapters.get_dumper_by_oid(oid, form)
        except psycopg.ProgrammingError:
            return False
        return True

    if all(dumps(oid, pq.Format.BINARY) for oid in oids):
        return RowEncoding(binary=True, types=tuple(oids), kinds=kinds)
    unknown = [oid for oid in oids if not dumps(oid, pq.Format.TEXT)]
    arrays = {oid for oid, (category, _, _) in zip(oids, kinds, strict=True) if category == "A"}
    return RowEncoding(
        binary=False,
        types=tuple(
            oid if oid not in unknown else TEXT_ARRAY_OID if oid in arrays else TEXT_OID
            for oid in oids
        ),
        kinds=kinds,
    )


@functools.lru_cache(maxsize=64)
def _json_lines_reading(
    names: tuple[str, ...], kinds: tuple[tuple[str, str, int], ...]
) -> JsonLinesRows | None:
    """How a stream's columns are read from JSON Lines: made once per stream, not per batch
    (two struct types and their decoders); ``None`` without the types' kinds."""
    return JsonLinesRows.for_columns(names, kinds) if kinds else None


class _CountingWriter(AsyncLibpqWriter):
    """Counts the bytes a COPY sends."""

    sent = 0

    async def write(self, data: Any) -> None:
        self.sent += len(data)
        await super().write(data)


async def copy_batch(
    connection: psycopg.AsyncConnection[Any],
    target: sql.Composable,
    names: Sequence[str],
    batch: Batch,
    encoding: RowEncoding,
) -> Written:
    """COPY the batch's frames into ``target``'s columns ``names``; the rows and bytes sent."""
    if batch.format is FrameFormat.JSON_LINES:
        reading = _json_lines_reading(tuple(names), encoding.kinds)
        if reading is not None:
            return await _json_lines_decoded(connection, target, names, batch, reading)
        return await _json_lines_populated(connection, target, names, batch)
    if batch.format in _OPTIONS:
        statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
            target, names_sql(names), _OPTIONS[batch.format]
        )
        return await _copy_bytes(connection, statement, batch)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        target, names_sql(names), sql.SQL("binary" if encoding.binary else "text")
    )
    cursor = connection.cursor()
    writer = _CountingWriter(cursor)
    async with cursor.copy(statement, writer=writer) as copy:
        copy.set_types(list(encoding.types))
        async for row in batch.frames:
            if not isinstance(row, tuple) or len(row) != len(names):
                raise StreamFailed(f"a row of the batch does not have {len(names)} values")
            await copy.write_row(row)
    return Written(max(cursor.rowcount, 0), writer.sent)


async def _copy_bytes(
    connection: psycopg.AsyncConnection[Any], statement: sql.Composed, batch: Batch
) -> Written:
    """The batch's byte frames into ``statement``, a ``COPY FROM STDIN``, as they are."""
    cursor = connection.cursor()
    writer = _CountingWriter(cursor)
    async with cursor.copy(statement, writer=writer) as copy:
        await _pass_through(copy, batch)
    return Written(max(cursor.rowcount, 0), writer.sent)


async def _json_lines_decoded(
    connection: psycopg.AsyncConnection[Any],
    target: sql.Composable,
    names: Sequence[str],
    batch: Batch,
    reading: JsonLinesRows,
) -> Written:
    """The batch's lines decoded here (``json_lines``), their rows sent by a text COPY."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, names_sql(names))
    cursor = connection.cursor()
    writer = _CountingWriter(cursor)
    async with cursor.copy(statement, writer=writer) as copy:
        async for line in lines(batch.frames):
            await copy.write_row(reading.row(line))
    return Written(max(cursor.rowcount, 0), writer.sent)


async def _json_lines_populated(
    connection: psycopg.AsyncConnection[Any],
    target: sql.Composable,
    names: Sequence[str],
    batch: Batch,
) -> Written:
    """The batch's lines into the lines table, then one row of ``target`` per line, each key
    the value of the column of that name (a missing key is NULL, another key is ignored).

    The lines table is emptied first, so its heap is fresh (whatever a rolled-back batch left):
    its rows are then scanned in the order they came (a temporary table is never scanned in
    parallel nor from the middle), and the rows land in the batch's order, which an upsert
    keeping a key's last row relies on."""
    await connection.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {0} (doc json) ON COMMIT DELETE ROWS; TRUNCATE {0}"
        ).format(LINES_TABLE)
    )
    into_lines = sql.SQL("COPY {} (doc) FROM STDIN ({})").format(LINES_TABLE, JSON_LINES_CSV)
    copied = await _copy_bytes(connection, into_lines, batch)
    columns = names_sql(names)
    inserted = await connection.execute(
        sql.SQL(
            "INSERT INTO {target} ({columns}) OVERRIDING SYSTEM VALUE SELECT {picked}"
            " FROM {lines} l, json_populate_record(NULL::{target}, l.doc) r"
            " WHERE l.doc IS NOT NULL"
        ).format(
            target=target,
            columns=columns,
            picked=sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(n)) for n in names),
            lines=LINES_TABLE,
        )
    )
    rows = max(inserted.rowcount, 0)
    if rows != copied.rows:
        raise StreamFailed("a line of the batch is empty: every line must be one JSON object")
    return Written(rows, copied.bytes)


async def _pass_through(copy: psycopg.AsyncCopy, batch: Batch) -> None:
    """Write the frames in blocks of at least ``WRITE_BYTES``; a frame's bytes are copied only
    to top up a block of small ones, never beyond that: the rest of a big frame goes as a view
    of it (memory stays at a block or two, whatever the frame's size)."""
    pending = bytearray()
    async for chunk in batch.frames:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise StreamFailed(f"a {batch.format.value} batch carried something other than bytes")
        rest = memoryview(chunk)
        if pending:
            topped = WRITE_BYTES - len(pending)
            pending += rest[:topped]
            rest = rest[topped:]
            if len(pending) < WRITE_BYTES:
                continue
            await copy.write(pending)
            pending = bytearray()
        if len(rest) >= WRITE_BYTES:
            await copy.write(rest)
        else:
            pending += rest
    if pending:
        await copy.write(pending)
