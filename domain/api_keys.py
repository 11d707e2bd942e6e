"""Organization API keys: credentials for services, scoped to one organization and role."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import define

from thedata.domain.access import Role
from thedata.domain.credentials import api_key_display_prefix
from thedata.domain.errors import NotFound


@define
class ApiKey:
    """A key's record; the key itself is shown once at creation and stored only as a hash."""

    id: UUID
    organization_id: UUID
    name: str
    role: Role
    public_id: str
    secret_hash: bytes
    created_by: UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @property
    def prefix(self) -> str:
        """The recognisable, non-secret start of the key."""
        return api_key_display_prefix(self.public_id)

    def is_expired(self, now: datetime) -> bool:
        """Whether the key has passed its expiry."""
        return self.expires_at is not None and self.expires_at <= now


class ApiKeyNotFound(NotFound):
    """No such key in the organization (it may have been revoked)."""

    code = "api_key_not_found"
