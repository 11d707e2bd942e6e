"""Who is calling: a bearer credential resolved to a ``Principal``, once per request."""

from __future__ import annotations

import hmac

from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import Clock, UnitOfWorkFactory
from thedata.domain.api_keys import KeyStatus
from thedata.domain.credentials import (
    AccessTokenText,
    ApiKeyText,
    credential_hash,
    parse_credential,
)
from thedata.domain.errors import Unauthenticated
from thedata.domain.principal import Principal


class Authenticate:
    """Resolve an access token or API key in one database lookup.

    A malformed credential is refused before any lookup. An API key is read
    with its creator's standing in the same lookup, and acts only while that
    standing covers it (``ApiKey.status``). Its ``last_used_at`` is written
    only when it is older than the policy's resolution, so a busy key does not
    cost a write per request.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, policy: IdentityPolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    async def __call__(self, credential: str) -> Principal:
        """The caller; ``Unauthenticated`` for a credential that is bad, expired or revoked."""
        parsed = parse_credential(credential)
        if isinstance(parsed, AccessTokenText):
            return await self._access_token(parsed)
        if isinstance(parsed, ApiKeyText):
            return await self._api_key(parsed)
        raise Unauthenticated("the credential is malformed")

    async def _access_token(self, credential: AccessTokenText) -> Principal:
        async with self._uow().reading() as uow:
            principal = await uow.access_tokens.principal_for(
                credential_hash(credential.token), self._clock.now()
            )
        if principal is None:
            raise Unauthenticated("the access token is invalid, expired or revoked")
        return principal

    async def _api_key(self, credential: ApiKeyText) -> Principal:
        now = self._clock.now()
        async with self._uow() as uow:
            key = await uow.api_keys.get_by_public_id(credential.public_id)
            valid = (
                key is not None
                and hmac.compare_digest(key.secret_hash, credential_hash(credential.token))
                and key.status(now) is KeyStatus.ACTIVE
            )
            if key is None or not valid:
                raise Unauthenticated("the API key is invalid, expired or revoked")
            resolution = self._policy.api_key_last_used_resolution
            if key.last_used_at is None or key.last_used_at <= now - resolution:
                await uow.api_keys.mark_used(key.id, now)
                await uow.commit()
        return Principal.api_key(key.id, key.organization_id, key.role)
