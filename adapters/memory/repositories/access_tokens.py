"""Access tokens in memory, keyed by their hash."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from thedata.adapters.memory.repositories.tables import Tables
from thedata.domain.organizations import Membership
from thedata.domain.principal import Principal
from thedata.domain.tokens import AccessToken


class InMemoryAccessTokenRepository:
    """Access tokens; revoking deletes."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[bytes, AccessToken]:
        return self._tables("access_tokens")

    async def add(self, token: AccessToken) -> None:
        self._rows()[token.token_hash] = token

    async def principal_for(self, token_hash: bytes, now: datetime) -> Principal | None:
        token = self._rows().get(token_hash)
        if token is None or token.expires_at <= now:
            return None
        memberships: dict[tuple[UUID, UUID], Membership] = self._tables("memberships")
        roles = {org: m.role for (org, user), m in memberships.items() if user == token.user_id}
        return Principal.user(token.user_id, roles, token_hash)

    async def revoke(self, token_hash: bytes) -> None:
        self._rows().pop(token_hash, None)

    async def revoke_all_of(self, user_id: UUID, *, keep: bytes | None = None) -> None:
        for token_hash, token in list(self._rows().items()):
            if token.user_id == user_id and token_hash != keep:
                del self._rows()[token_hash]

    async def purge_expired(self, user_id: UUID, now: datetime) -> None:
        for token_hash, token in list(self._rows().items()):
            if token.user_id == user_id and token.expires_at <= now:
                del self._rows()[token_hash]
