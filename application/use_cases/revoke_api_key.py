"""Revoking an API key."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action
from thedata.domain.api_keys import ApiKeyNotFound
from thedata.domain.principal import Principal


class RevokeApiKey:
    """Delete a key; the next request that presents it is refused."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID, key_id: UUID) -> None:
        """Revoke it (admins and owners); ``ApiKeyNotFound`` if the organization has no such key."""
        authorize(principal, organization_id, Action.MANAGE_API_KEYS)
        async with self._uow() as uow:
            if not await uow.api_keys.delete(organization_id, key_id):
                raise ApiKeyNotFound(f"API key {key_id} not found")
            await uow.commit()
