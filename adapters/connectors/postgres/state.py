"""The destination's own record of each stream: its position and the epoch allowed to write.

``_thedata_state`` lives beside the data, in the data source's schema, so the
rows of a batch and the position after them commit in one transaction. An
attempt raises the stored epoch when it opens the stream; every publish takes
the state row ``FOR UPDATE`` as its last step, after its rows are in, and
checks the epoch and position are still the ones it knew. A newer attempt's
open waits only for a publish that is storing its position (a moment), then
wins; the older attempt's publish finds a larger epoch and commits nothing. A
worker paused mid-batch holds no lock a newer attempt needs, and one paused
holding the row is ended by the server: a writer's transaction may not sit
idle longer than the connector timeout (a full refresh's load may, until it
takes the row).
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
import psycopg
from attrs import frozen
from psycopg import sql

from thedata.application.ports.streams import Position, StreamFailed, Superseded

STATE_TABLE = "_thedata_state"
CLAIM_WAIT = "60s"
"""How long an open waits for another attempt's publish in flight (its commit, normally a
moment); past it the open fails, retryably, rather than hang behind a paused worker."""

_FIND = """
SELECT c.oid, EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'definition' AND NOT a.attisdropped)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""
_CREATE = """
CREATE TABLE IF NOT EXISTS {} (
    pipeline text NOT NULL,
    stream text NOT NULL,
    epoch bigint NOT NULL,
    position jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    definition jsonb,
    PRIMARY KEY (pipeline, stream)
)
"""
# state tables created before the column
_ADD_DEFINITION = "ALTER TABLE {} ADD COLUMN IF NOT EXISTS definition jsonb"
# ON CONFLICT locks the row even when the WHERE refuses the update: an open waits for a
# publish in flight; an equal epoch is the same attempt resuming. Sent with its lock wait as one
# message without parameters: one round trip, one transaction (the message's own).
_CLAIM = """
SET LOCAL lock_timeout = {wait};
INSERT INTO {table} AS s (pipeline, stream, epoch, definition)
VALUES ({pipeline}, {stream}, {epoch}, {definition}::jsonb)
ON CONFLICT (pipeline, stream) DO UPDATE SET epoch = excluded.epoch, updated_at = now()
WHERE s.epoch <= excluded.epoch
RETURNING s.position, s.definition
"""
# after a claim, when the stream's definition changed (rare): fenced by the epoch just claimed
_REDEFINE = """
SET LOCAL lock_timeout = {wait};
UPDATE {table} SET definition = {definition}::jsonb,
    position = CASE WHEN definition IS NULL THEN position END, updated_at = now()
WHERE pipeline = {pipeline} AND stream = {stream} AND epoch = {epoch}
RETURNING position
"""
_HOLD = "SELECT epoch, position FROM {table} WHERE pipeline = %s AND stream = %s FOR UPDATE"
_PEEK = "SELECT epoch, position FROM {table} WHERE pipeline = %s AND stream = %s"
_BRIEF = "SET LOCAL idle_in_transaction_session_timeout = {}"
_WAIT = "SET LOCAL lock_timeout = {}"
_SAVE = """
UPDATE {table} SET position = %s::jsonb, updated_at = now()
WHERE pipeline = %s AND stream = %s AND epoch = %s
"""


class Definition(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What a stored position belongs to: read for this table, mode and key (in order), it
    means nothing for another."""

    table: str
    mode: str
    key: list[str]


class _StoredPosition(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    cursor: str
    key: list[str] = []
    snapshot: str | None = None


def encode_position(position: Position | None) -> str | None:
    """The JSON text stored for ``position``."""
    if position is None:
        return None
    stored = _StoredPosition(position.cursor, list(position.key), position.snapshot)
    return msgspec.json.encode(stored).decode()


UNREADABLE = "the stored position of this stream cannot be read; run a full refresh"


def decode_position(value: Any) -> Position | None:
    """The position a stored JSON value (as psycopg loads ``jsonb``) stands for;
    ``StreamFailed`` (for good) when it is not one of ours."""
    if value is None:
        return None
    try:
        stored = msgspec.convert(value, _StoredPosition)
    except msgspec.ValidationError:
        raise StreamFailed(UNREADABLE) from None
    return Position(stored.cursor, tuple(stored.key), stored.snapshot)


def superseded(pipeline: str, stream: str, epoch: int, holder: int | None = None) -> Superseded:
    """The error of an attempt whose epoch no longer holds the stream (``holder``: the one
    that does)."""
    return Superseded(
        f"the stream {stream!r} of pipeline {pipeline!r} was taken over by a later attempt "
        f"than {epoch}",
        holder=holder,
    )


def moved_on(pipeline: str, stream: str, epoch: int) -> Superseded:
    """The error of an attempt whose position was moved on by another holding the same epoch."""
    return Superseded(
        f"the stream {stream!r} of pipeline {pipeline!r} was moved on by another attempt "
        f"with the same epoch {epoch}"
    )


@frozen
class StreamState:
    """One stream's row in the state table of ``schema``, as the attempt with ``epoch`` sees it;
    a publish's transaction may sit idle at most ``brief`` (a PostgreSQL duration) once it
    holds the row."""

    schema: str
    pipeline: str
    stream: str
    epoch: int
    brief: str = "5s"

    @property
    def _table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, STATE_TABLE)

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(table=self._table)

    async def ensure_table(self, connection: psycopg.AsyncConnection[Any]) -> int:
        """Create the state table unless it exists (outside any transaction); its oid."""
        found = await (await connection.execute(_FIND, (self.schema, STATE_TABLE))).fetchone()
        if found is not None:
            if not found[1]:
                await connection.execute(sql.SQL(_ADD_DEFINITION).format(self._table))
            return int(found[0])
        # another attempt may create it at the same moment (which of its names collides first
        # decides the error)
        with contextlib.suppress(
            psycopg.errors.UniqueViolation,
            psycopg.errors.DuplicateTable,
            psycopg.errors.DuplicateObject,
        ):
            await connection.execute(sql.SQL(_CREATE).format(self._table))
        created = await (await connection.execute(_FIND, (self.schema, STATE_TABLE))).fetchone()
        if created is None:  # dropped at once by someone else
            raise StreamFailed(
                f"the state table {STATE_TABLE!r} vanished as it was created", retryable=True
            )
        return int(created[0])

    async def claim(self, connection: psycopg.AsyncConnection[Any], definition: Definition) -> Any:
        """Raise the stored epoch to ours, in a transaction of its own (``connection`` is in
        autocommit mode); the committed position as stored (``decode_position`` reads it: a
        full refresh, which does not use it, must not fail on it). ``Superseded`` when a
        larger epoch holds the stream.

        A position stored for another ``definition`` (the stream now writes another table,
        or with another mode or key) is dropped: the stream starts over. A row from before
        definitions were stored keeps its position and takes this definition.
        """
        row = await self._alone(connection, _CLAIM, definition)
        position, stored = row
        if stored == msgspec.to_builtins(definition):
            return position
        # a same-epoch attempt is the only one that could write in between: it would have
        # read the same definition, and its position is dropped here like the one before
        (kept,) = await self._alone(connection, _REDEFINE, definition)
        return kept

    async def _alone(
        self, connection: psycopg.AsyncConnection[Any], template: str, definition: Definition
    ) -> tuple[Any, ...]:
        """Run ``template`` (a lock wait, then a statement returning the state row) as one
        message of its own; the row (``Superseded`` when there is none)."""
        statement = sql.SQL(template).format(
            wait=sql.Literal(CLAIM_WAIT),
            table=self._table,
            pipeline=sql.Literal(self.pipeline),
            stream=sql.Literal(self.stream),
            epoch=sql.Literal(self.epoch),
            definition=sql.Literal(msgspec.json.encode(definition).decode()),
        )
        done = await connection.execute(statement)  # no parameters: one message, two results
        done.nextset()  # past the SET
        row: tuple[Any, ...] | None = await done.fetchone()
        if row is None:
            peeked = await connection.execute(self._sql(_PEEK), (self.pipeline, self.stream))
            holding = await peeked.fetchone()
            holder = int(holding[0]) if holding is not None else None
            raise superseded(self.pipeline, self.stream, self.epoch, holder)
        return row

    async def hold(self, connection: psycopg.AsyncConnection[Any]) -> Position | None:
        """Lock the row for this publish, as its last step before storing the position (a
        newer open waits for it); the committed position (``Superseded`` if not ours). From
        here the transaction may not sit idle past ``brief`` (a load may have been allowed
        longer): a paused worker's session is ended by the server, releasing the row."""
        return decode_position(await self.lock(connection))

    async def lock(self, connection: psycopg.AsyncConnection[Any]) -> Any:
        """``hold``, the committed position left as stored."""
        await connection.execute(
            sql.SQL("; ").join(
                [
                    sql.SQL(_BRIEF).format(sql.Literal(self.brief)),
                    sql.SQL(_WAIT).format(sql.Literal(CLAIM_WAIT)),
                ]
            )
        )
        held = await connection.execute(self._sql(_HOLD), (self.pipeline, self.stream))
        return self._ours(await held.fetchone())

    async def committed(self, connection: psycopg.AsyncConnection[Any]) -> Position | None:
        """The committed position, at a look, no lock (``Superseded`` if not ours)."""
        return decode_position(await self._peek(connection))

    async def still_ours(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """``Superseded`` if a later attempt took the stream (a look, no lock)."""
        await self._peek(connection)

    async def _peek(self, connection: psycopg.AsyncConnection[Any]) -> Any:
        peeked = await connection.execute(self._sql(_PEEK), (self.pipeline, self.stream))
        return self._ours(await peeked.fetchone())

    def _ours(self, row: tuple[Any, ...] | None) -> Any:
        """The stored position of ``row`` (epoch, position), if the epoch is ours."""
        if row is None or row[0] != self.epoch:
            holder = int(row[0]) if row is not None else None
            raise superseded(self.pipeline, self.stream, self.epoch, holder)
        return row[1]

    def moved_on(self) -> Superseded:
        """The error of this attempt when another with the same epoch moved the position on."""
        return moved_on(self.pipeline, self.stream, self.epoch)

    async def save(self, connection: psycopg.AsyncConnection[Any], end: Position | None) -> None:
        """Store the position the publish reaches, in its transaction, fenced by the epoch."""
        saved = await connection.execute(
            self._sql(_SAVE), (encode_position(end), self.pipeline, self.stream, self.epoch)
        )
        if saved.rowcount != 1:  # the row is held: only a foreign hand could make this happen
            raise superseded(self.pipeline, self.stream, self.epoch)
