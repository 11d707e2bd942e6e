"""Organization API keys in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.access import Role
from thedata.domain.api_keys import ApiKey, KeyCreator
from thedata.domain.pagination import Page, PageRequest

# The creator's account and membership come with the key, by primary key, so
# authenticating a key stays one round trip and sees the creator as of now.
_SELECT = (
    "SELECT k.id, k.organization_id, k.name, k.role, k.public_id, k.secret_hash,"
    " k.created_by, k.created_at, k.expires_at, k.last_used_at, k.creator_joined_at,"
    " u.email, u.name, m.role, m.joined_at"
    " FROM api_keys AS k"
    " LEFT JOIN users AS u ON u.id = k.created_by"
    " LEFT JOIN memberships AS m"
    " ON m.organization_id = k.organization_id AND m.user_id = k.created_by"
)


def _key(row: tuple[Any, ...]) -> ApiKey:
    (key_id, organization_id, name, role, public_id, secret_hash, created_by, created_at) = row[:8]
    expires_at, last_used_at, creator_joined_at = row[8:11]
    email, creator_name, creator_role, joined_at = row[11:]
    creator = None
    if email is not None:  # the creator's account exists; a membership may not
        standing = Role(creator_role) if creator_role is not None else None
        creator = KeyCreator(created_by, email, creator_name, standing, joined_at)
    return ApiKey(
        key_id,
        organization_id,
        name,
        Role(role),
        public_id,
        bytes(secret_hash),
        created_by,
        created_at,
        expires_at,
        last_used_at,
        creator_joined_at,
        creator,
    )


class PostgresApiKeyRepository:
    """The ``api_keys`` table; a revoked key's row is deleted."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, key: ApiKey) -> None:
        await self._connection().execute(
            "INSERT INTO api_keys (id, organization_id, name, role, public_id, secret_hash,"
            " created_by, created_at, expires_at, last_used_at, creator_joined_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                key.id,
                key.organization_id,
                key.name,
                key.role.value,
                key.public_id,
                key.secret_hash,
                key.created_by,
                key.created_at,
                key.expires_at,
                key.last_used_at,
                key.creator_joined_at,
            ),
        )

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKey | None:
        cursor = await self._connection().execute(
            _SELECT + " WHERE k.organization_id = %s AND k.id = %s", (organization_id, key_id)
        )
        row = await cursor.fetchone()
        return _key(row) if row else None

    async def get_by_public_id(self, public_id: str) -> ApiKey | None:
        cursor = await self._connection().execute(_SELECT + " WHERE k.public_id = %s", (public_id,))
        row = await cursor.fetchone()
        return _key(row) if row else None

    async def delete(self, organization_id: UUID, key_id: UUID) -> bool:
        cursor = await self._connection().execute(
            "DELETE FROM api_keys WHERE organization_id = %s AND id = %s",
            (organization_id, key_id),
        )
        return cursor.rowcount > 0

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[ApiKey]:
        cursor = await self._connection().execute(
            _SELECT + " WHERE k.organization_id = %s AND (%s::uuid IS NULL OR k.id > %s)"
            " ORDER BY k.id LIMIT %s",
            (organization_id, page.after, page.after, page.limit + 1),
        )
        rows = [_key(row) for row in await cursor.fetchall()]
        return Page.from_rows(rows, page, lambda key: key.id)

    async def mark_used(self, key_id: UUID, at: datetime) -> None:
        # never moves backwards when two requests race to record their use
        await self._connection().execute(
            "UPDATE api_keys SET last_used_at = %s"
            " WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
            (at, key_id, at),
        )
