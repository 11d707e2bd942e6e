"""API keys in memory, keyed by (organization id, key id)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables, page_of
from thedata.domain.api_keys import ApiKey, KeyCreator
from thedata.domain.organizations import Membership
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.users import User


class InMemoryApiKeyRepository:
    """API keys, read with their creator's standing from the users and memberships tables."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[tuple[UUID, UUID], ApiKey]:
        return self._tables("api_keys")

    def _read(self, key: ApiKey) -> ApiKey:
        user: User | None = self._tables("users").get(key.created_by)
        if user is None:
            return evolve(key, creator=None)
        memberships: dict[tuple[UUID, UUID], Membership] = self._tables("memberships")
        membership = memberships.get((key.organization_id, user.id))
        creator = KeyCreator(
            user.id,
            user.email,
            user.name,
            membership.role if membership else None,
            membership.joined_at if membership else None,
        )
        return evolve(key, creator=creator)

    async def add(self, key: ApiKey) -> None:
        self._rows()[(key.organization_id, key.id)] = evolve(key, creator=None)

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKey | None:
        key = self._rows().get((organization_id, key_id))
        return self._read(key) if key else None

    async def get_by_public_id(self, public_id: str) -> ApiKey | None:
        found = [k for k in self._rows().values() if k.public_id == public_id]
        return self._read(found[0]) if found else None

    async def delete(self, organization_id: UUID, key_id: UUID) -> bool:
        return self._rows().pop((organization_id, key_id), None) is not None

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[ApiKey]:
        keys = [self._read(k) for (org, _), k in self._rows().items() if org == organization_id]
        return page_of(keys, page, lambda key: key.id)

    async def mark_used(self, key_id: UUID, at: datetime) -> None:
        for slot, key in self._rows().items():
            if key.id == key_id and (key.last_used_at is None or key.last_used_at < at):
                self._rows()[slot] = evolve(key, last_used_at=at)
