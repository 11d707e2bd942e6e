"""Bodies of organization API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from thedata.application.use_cases import CreatedApiKey
from thedata.domain.api_keys import ApiKey, KeyCreator, ListedApiKey
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


KeyStatusName = Literal["active", "expired", "creator_left", "creator_demoted"]


class CreatorBody(msgspec.Struct, frozen=True):
    """Who made a key (a key made by a key names the person behind that one)."""

    user_id: UUID
    email: str
    name: str


class ApiKeyBody(msgspec.Struct, frozen=True):
    """A key's record; ``prefix`` recognises it, it does not authenticate.

    ``status`` says whether it authenticates now: ``creator_left`` (its creator
    was removed, for good, even if added back since), ``creator_demoted`` (its
    creator's role is below the key's for now) or ``expired``. ``created_by``
    is ``null`` when nobody is on record (the account is gone).
    """

    id: UUID
    name: str
    role: RoleName
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    created_by: CreatorBody | None
    status: KeyStatusName


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
    created_by: CreatorBody | None
    status: KeyStatusName
    key: str | None


class ApiKeyPage(msgspec.Struct, frozen=True):
    """A page of keys."""

    items: list[ApiKeyBody]
    next_cursor: str | None


def _optional_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def _creator_body(creator: KeyCreator | None) -> CreatorBody | None:
    return CreatorBody(creator.user_id, creator.email, creator.name) if creator else None


def api_key_body(listed: ListedApiKey) -> ApiKeyBody:
    """A key's record as listed, with its status at the time."""
    key = listed.record
    status: KeyStatusName = listed.status.value
    return ApiKeyBody(
        key.id,
        key.name,
        role_name(key.role),
        key.prefix,
        utc(key.created_at),
        _optional_utc(key.last_used_at),
        _optional_utc(key.expires_at),
        _creator_body(key.creator),
        status,
    )


def _new_key_body(record: ApiKey) -> ApiKeyBody:
    # a new key is listed as of the instant it was made, when its creator stood behind it
    return api_key_body(ListedApiKey(record, record.status(record.created_at)))


def created_api_key_body(created: CreatedApiKey) -> CreatedApiKeyBody:
    """The answer to the creating request, with the key."""
    record = _new_key_body(created.record)
    return CreatedApiKeyBody(**msgspec.structs.asdict(record), key=created.key)


def stored_api_key_body(created: CreatedApiKey) -> CreatedApiKeyBody:
    """What is kept for replays: everything but the key."""
    record = _new_key_body(created.record)
    return CreatedApiKeyBody(**msgspec.structs.asdict(record), key=None)
