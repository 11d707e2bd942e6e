"""Bodies of organization API keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from thedata.application.use_cases import CreatedApiKey
from thedata.domain.api_keys import ApiKey
from thedata.entrypoints.http.schemas.common import (
    AwareDatetime,
    Name,
    Request,
    RoleName,
    role_name,
    utc,
)


class CreateApiKeyRequest(Request):
    """A new key: its name, role (at most the creator's) and optional expiry."""

    name: Name
    role: RoleName
    expires_at: AwareDatetime | None = None


class ApiKeyBody(msgspec.Struct, frozen=True):
    """A key's record; ``prefix`` recognises it, it does not authenticate."""

    id: UUID
    name: str
    role: RoleName
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class CreatedApiKeyBody(msgspec.Struct, frozen=True):
    """A new key's record and, this once, the key itself.

    ``key`` is ``null`` in a replay of the creating request (``Idempotent-Replayed:
    true``): the key is never stored, so it cannot be shown again.
    """

    id: UUID
    name: str
    role: RoleName
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    key: str | None


class ApiKeyPage(msgspec.Struct, frozen=True):
    """A page of keys."""

    items: list[ApiKeyBody]
    next_cursor: str | None


def _optional_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def api_key_body(key: ApiKey) -> ApiKeyBody:
    """A key's record as listed."""
    return ApiKeyBody(
        key.id,
        key.name,
        role_name(key.role),
        key.prefix,
        utc(key.created_at),
        _optional_utc(key.last_used_at),
        _optional_utc(key.expires_at),
    )


def created_api_key_body(created: CreatedApiKey) -> CreatedApiKeyBody:
    """The answer to the creating request, with the key."""
    record = api_key_body(created.record)
    return CreatedApiKeyBody(**msgspec.structs.asdict(record), key=created.key)


def stored_api_key_body(created: CreatedApiKey) -> CreatedApiKeyBody:
    """What is kept for replays: everything but the key."""
    record = api_key_body(created.record)
    return CreatedApiKeyBody(**msgspec.structs.asdict(record), key=None)
