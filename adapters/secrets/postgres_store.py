"""Secrets in PostgreSQL: the default store, shared by every API and worker process."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from thedata.adapters.secrets.cipher import SealedSecret, SecretCipher
from thedata.application.errors import SecretStoreUnavailable
from thedata.application.ports import StoredSecret
from thedata.application.ports.secrets import CANARIES_PER_KEY_VERSION
from thedata.domain.secrets import SecretNotFound, check_reference

_UPSERT = """
INSERT INTO secrets (organization_id, reference, key_version, nonce, ciphertext)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (organization_id, reference) DO UPDATE SET
    key_version = EXCLUDED.key_version, nonce = EXCLUDED.nonce,
    ciphertext = EXCLUDED.ciphertext, updated_at = now()
"""
# Rows already locked by another rotation are skipped, not waited for; readers
# never wait, because PostgreSQL readers do not take row locks. `<> current` would scan
# every secret for each batch; the two ranges are two scans of secrets_by_key_version.
_STALE_BATCH = """
SELECT organization_id, reference, key_version, nonce, ciphertext FROM secrets
WHERE key_version < %(current)s OR key_version > %(current)s
ORDER BY organization_id, reference
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED
"""

# The key versions in use, by a loose index scan over secrets_by_key_version: as many
# index probes as there are versions, however many secrets there are.
_KEY_VERSIONS = """
WITH RECURSIVE versions (key_version) AS (
    SELECT min(key_version) FROM secrets
    UNION ALL
    SELECT (SELECT min(key_version) FROM secrets WHERE key_version > versions.key_version)
    FROM versions WHERE versions.key_version IS NOT NULL
)
SELECT key_version FROM versions WHERE key_version IS NOT NULL
"""
_SEALED_BY = """
SELECT organization_id, reference, nonce, ciphertext FROM secrets
WHERE key_version = %s LIMIT %s
"""


def _sealed(columns: Sequence[Any]) -> SealedSecret:
    version, nonce, ciphertext = columns
    return SealedSecret(int(version), bytes(nonce), bytes(ciphertext))


def _columns(sealed: SealedSecret) -> tuple[int, bytes, bytes]:
    return sealed.key_version, sealed.nonce, sealed.ciphertext


@contextmanager
def _unavailable_when_unreachable() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as e:  # refused, dropped, timed out, pool exhausted
        raise SecretStoreUnavailable("the secret store's database is unavailable") from e


Connection = AsyncConnection[TupleRow]


class PostgresSecretWriter:
    """Secret changes on a unit of work's own connection: committed or rolled back with it.

    No second connection is taken, so a pool of one suffices, and a refused
    change (a taken name, say) leaves the stored secrets as they were.
    """

    def __init__(self, connection: Callable[[], Connection], cipher: SecretCipher) -> None:
        self._connection, self._cipher = connection, cipher

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        sealed = self._cipher.seal(organization_id, check_reference(reference), value)
        await self._connection().execute(_UPSERT, (organization_id, reference, *_columns(sealed)))

    async def delete(self, organization_id: UUID, reference: str) -> None:
        await self._connection().execute(
            "DELETE FROM secrets WHERE organization_id = %s AND reference = %s",
            (organization_id, reference),
        )

    async def committed(self) -> None:
        return None  # the transaction carried every change

    async def discarded(self) -> None:
        return None

    async def in_doubt(self) -> None:
        return None  # the secrets' fate is the transaction's, whatever it was


class PostgresSecretStore:
    """The ``secrets`` table: one row per (organization, reference), sealed by ``SecretCipher``.

    Only ciphertext reaches the database; deleting an organization deletes its
    secrets with it (foreign key).
    """

    def __init__(self, pool: AsyncConnectionPool, cipher: SecretCipher) -> None:
        self._pool, self._cipher = pool, cipher
        self._opened: set[int] = set()  # key versions a canary opened (the ring is fixed)

    @property
    def current_key_version(self) -> int:
        return self._cipher.current_key_version

    def joined(self, connection: Callable[[], Connection]) -> PostgresSecretWriter:
        """This store's part in a unit of work on ``connection`` (see ``PostgresUnitOfWork``)."""
        return PostgresSecretWriter(connection, self._cipher)

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        sealed = self._cipher.seal(organization_id, check_reference(reference), value)
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                await connection.execute(
                    _UPSERT,
                    (
                        organization_id,
                        reference,
                        sealed.key_version,
                        sealed.nonce,
                        sealed.ciphertext,
                    ),
                )

    async def get(self, organization_id: UUID, reference: str) -> bytes:
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT key_version, nonce, ciphertext FROM secrets"
                    " WHERE organization_id = %s AND reference = %s",
                    (organization_id, reference),
                )
                row = await cursor.fetchone()
        if row is None:
            raise SecretNotFound(f"no secret {reference!r}")
        return self._cipher.open(organization_id, reference, _sealed(row))

    async def delete(self, organization_id: UUID, reference: str) -> bool:
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "DELETE FROM secrets WHERE organization_id = %s AND reference = %s",
                    (organization_id, reference),
                )
                return cursor.rowcount > 0

    async def references(self, organization_id: UUID) -> Sequence[str]:
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT reference FROM secrets WHERE organization_id = %s ORDER BY reference",
                    (organization_id,),
                )
                return [str(reference) for (reference,) in await cursor.fetchall()]

    async def inventory(self) -> Sequence[StoredSecret]:
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT organization_id, reference, updated_at FROM secrets"
                    " ORDER BY organization_id, reference"
                )
                return [StoredSecret(*row) for row in await cursor.fetchall()]

    async def count_by_key_version(self) -> Mapping[int, int]:
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT key_version, count(*) FROM secrets GROUP BY key_version"
                )
                return {int(version): int(count) for version, count in await cursor.fetchall()}

    async def unreadable_key_versions(self) -> Sequence[int]:
        unreadable = []
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection:
                cursor = await connection.execute(_KEY_VERSIONS)
                versions = [int(version) for (version,) in await cursor.fetchall()]
                for version in versions:
                    if version in self._opened:
                        continue
                    cursor = await connection.execute(
                        _SEALED_BY, (version, CANARIES_PER_KEY_VERSION)
                    )
                    canaries = [
                        (organization_id, reference, SealedSecret(version, bytes(n), bytes(c)))
                        for organization_id, reference, n, c in await cursor.fetchall()
                    ]
                    if self._cipher.opens_any(canaries):
                        self._opened.add(version)
                    else:
                        unreadable.append(version)
        return unreadable

    async def reencrypt(self, batch_size: int) -> int:
        current = self._cipher.current_key_version
        with _unavailable_when_unreachable():
            async with self._pool.connection() as connection, connection.transaction():
                cursor = await connection.execute(
                    _STALE_BATCH, {"current": current, "batch": batch_size}
                )
                updates = []
                for (
                    organization_id,
                    reference,
                    version,
                    nonce,
                    ciphertext,
                ) in await cursor.fetchall():
                    sealed = SealedSecret(int(version), bytes(nonce), bytes(ciphertext))
                    fresh = self._cipher.reseal(organization_id, reference, sealed)
                    updates.append(
                        (
                            fresh.key_version,
                            fresh.nonce,
                            fresh.ciphertext,
                            organization_id,
                            reference,
                        )
                    )
                if not updates:
                    return 0
                async with connection.cursor() as writer:
                    await writer.executemany(
                        "UPDATE secrets SET key_version = %s, nonce = %s, ciphertext = %s,"
                        " updated_at = now() WHERE organization_id = %s AND reference = %s",
                        updates,
                    )
        return len(updates)
