"""Revoking an API key."""

from __future__ import annotations

from uuid import UUID

from thedata.application.authorization import authorize
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.access import Action, may_grant_key_role
from thedata.domain.api_keys import ApiKeyNotFound
from thedata.domain.errors import PermissionDenied
from thedata.domain.principal import Principal


class RevokeApiKey:
    """Delete a key; the next request that presents it is refused.

    Revoking takes the authority to create: an admin may not revoke an owner
    key, or an attacker holding an admin credential could cut the owners'
    automation off.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, organization_id: UUID, key_id: UUID) -> None:
        """Revoke it; ``PermissionDenied`` for a key above the caller's role, else 404 if none."""
        actor = authorize(principal, organization_id, Action.MANAGE_API_KEYS)
        async with self._uow() as uow:
            key = await uow.api_keys.get(organization_id, key_id)
            if key is None:
                raise ApiKeyNotFound(f"API key {key_id} not found")
            if not may_grant_key_role(actor, key.role):
                raise PermissionDenied(
                    f"a {key.role.value!r} key can only be revoked by a role that could create it"
                )
            await uow.api_keys.delete(organization_id, key_id)
            await uow.commit()
