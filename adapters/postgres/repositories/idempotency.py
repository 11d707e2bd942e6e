"""Idempotency records in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.application.ports import StoredResponse

# Inserting the key takes its unique-index entry: a concurrent claim of the same
# key waits here until this transaction ends, then finds the committed record
# (or, if this one rolled back, claims the key itself). An expired record is
# taken over in place.
_CLAIM = """
INSERT INTO idempotency_keys AS i (scope, key, fingerprint, created_at, expires_at)
VALUES (%(scope)s, %(key)s, %(fingerprint)s, %(now)s, %(expires_at)s)
ON CONFLICT (scope, key) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at, status = NULL, body = NULL
    WHERE i.expires_at <= EXCLUDED.created_at
RETURNING 1
"""


class PostgresIdempotencyStore:
    """The ``idempotency_keys`` table, written in the creating transaction."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> tuple[str, StoredResponse] | None:
        values = {
            "scope": scope,
            "key": key,
            "fingerprint": fingerprint,
            "now": now,
            "expires_at": expires_at,
        }
        cursor = await self._connection().execute(_CLAIM, values)
        if await cursor.fetchone() is not None:
            return None
        cursor = await self._connection().execute(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = %s AND key = %s",
            (scope, key),
        )
        row = await cursor.fetchone()
        if row is None or row[1] is None:  # pragma: no cover - saved in the claiming transaction
            raise RuntimeError("an idempotency record without a response was committed")
        return row[0], StoredResponse(int(row[1]), bytes(row[2]))

    async def save(self, scope: str, key: str, response: StoredResponse) -> None:
        await self._connection().execute(
            "UPDATE idempotency_keys SET status = %s, body = %s WHERE scope = %s AND key = %s",
            (response.status, response.body, scope, key),
        )

    async def purge_expired(self, now: datetime, limit: int) -> int:
        cursor = await self._connection().execute(
            # a TID scan whatever the table's size (`ctid IN (subquery)` may hash-join it all)
            "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY (SELECT ctid"
            " FROM idempotency_keys WHERE expires_at <= %s LIMIT %s FOR UPDATE SKIP LOCKED))",
            (now, limit),
        )
        return max(cursor.rowcount, 0)
