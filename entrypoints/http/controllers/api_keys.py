"""``/v1/orgs/{org_id}/api-keys``: credentials for services."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from thedata.application.use_cases import (
    CreateApiKey,
    CreatedApiKey,
    ListApiKeys,
    NewApiKey,
    RevokeApiKey,
)
from thedata.domain.access import Role
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.api_keys import (
    ApiKeyPage,
    CreateApiKeyRequest,
    CreatedApiKeyBody,
    api_key_body,
    created_api_key_body,
    stored_api_key_body,
)

# the key is never stored, not even in the idempotency record: a replay omits it; and no
# cache between the client and us may keep it either (as token responses, RFC 6749 5.1)
CREATION: Creation[CreatedApiKey, CreatedApiKeyBody] = Creation(
    created_api_key_body,
    stored_body=stored_api_key_body,
    headers={"Cache-Control": "no-store"},
)

PROBLEMS = RESOURCE_PROBLEMS


class ApiKeyController(Controller):
    """API keys of an organization (admins and owners)."""

    path = "/v1/orgs/{org_id:uuid}/api-keys"
    tags = ["Organizations and members"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "list_api_keys": caller_use_case(lambda c: c.list_api_keys),
        "create_api_key": caller_use_case(lambda c: c.create_api_key),
        "revoke_api_key": caller_use_case(lambda c: c.revoke_api_key),
    }

    @get(summary="List API keys", responses=PROBLEMS)
    async def list_api_keys(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        list_api_keys: Injected[ListApiKeys],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> ApiKeyPage:
        """The organization's API keys: name, role, prefix, creator, status and times; never the
        keys themselves.

        Admins and owners. `status` says whether a key authenticates now: `active`, `expired`,
        `creator_left` or `creator_demoted`. A page: `limit` (1..200, default 50) and `cursor` (the
        previous page's `next_cursor`, `null` on the last page). An organization the caller is not a
        member of answers 404, never 403.
        """
        page = page_request(limit, cursor)
        return page_body(ApiKeyPage, await list_api_keys(principal, org_id, page), api_key_body)

    @post(summary="Create an API key", responses=PROBLEMS)
    async def create_api_key(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data: JSONBody[CreateApiKeyRequest],
        create_api_key: Injected[CreateApiKey],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CreatedApiKeyBody]:
        """Create an API key (`tdk_…`) that acts for the organization with one role, until it
        expires or is revoked.

        Admins and owners; the key's role is at most the creator's. The answer's `key` is the
        secret, shown this once only: a replay of the request has `"key": null`. Retry it safely
        with an `Idempotency-Key`: the same key and body answer the first response again (with
        `Idempotent-Replayed: true`) and create nothing; the same key with another body is 409. Keys
        are kept 24 hours.
        """
        command = NewApiKey(name=data.name, role=Role(data.role), expires_at=data.expires_at)
        idempotency = await CREATION.request(request, idempotency_key)
        return CREATION.respond(await create_api_key(principal, org_id, command, idempotency))

    @delete("/{key_id:uuid}", summary="Revoke an API key", responses=PROBLEMS)
    async def revoke_api_key(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        key_id: FromPath[UUID],
        revoke_api_key: Injected[RevokeApiKey],
    ) -> None:
        """Revoke an API key: it stops working at once (204).

        Admins and owners, with a role that could create the key (an admin cannot revoke an owner
        key). An organization the caller is not a member of answers 404, never 403.
        """
        await revoke_api_key(principal, org_id, key_id)
