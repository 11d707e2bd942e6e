"""Access tokens in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.access import Role
from thedata.domain.principal import Principal
from thedata.domain.tokens import AccessToken


class PostgresAccessTokenRepository:
    """The ``access_tokens`` table; revoking a token deletes its row."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, token: AccessToken) -> None:
        await self._connection().execute(
            "INSERT INTO access_tokens (token_hash, user_id, created_at, expires_at)"
            " VALUES (%s, %s, %s, %s)",
            (token.token_hash, token.user_id, token.created_at, token.expires_at),
        )

    async def principal_for(self, token_hash: bytes, now: datetime) -> Principal | None:
        # one round trip: the token and every membership of its user
        cursor = await self._connection().execute(
            "SELECT t.user_id, m.organization_id, m.role FROM access_tokens t"
            " LEFT JOIN memberships m ON m.user_id = t.user_id"
            " WHERE t.token_hash = %s AND t.expires_at > %s",
            (token_hash, now),
        )
        rows = await cursor.fetchall()
        if not rows:
            return None
        roles = {org: Role(role) for _, org, role in rows if org is not None}
        return Principal.user(rows[0][0], roles, token_hash)

    async def revoke(self, token_hash: bytes) -> None:
        await self._connection().execute(
            "DELETE FROM access_tokens WHERE token_hash = %s", (token_hash,)
        )

    async def revoke_all_of(self, user_id: UUID, *, keep: bytes | None = None) -> None:
        await self._connection().execute(
            "DELETE FROM access_tokens WHERE user_id = %s"
            " AND (%s::bytea IS NULL OR token_hash <> %s)",
            (user_id, keep, keep),
        )

    async def purge_expired(self, user_id: UUID, now: datetime) -> None:
        await self._connection().execute(
            "DELETE FROM access_tokens WHERE user_id = %s AND expires_at <= %s", (user_id, now)
        )
