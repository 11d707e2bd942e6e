"""Organization API keys: credentials for services, scoped to one organization and role.

A key never has more authority than the person who stands behind it. It acts
only while its creator is still a member of its organization, in the very
membership the key was made under, with a role that covers the key's:

- creator removed: the key stops for good. Adding the person back makes a new
  membership (a new ``joined_at``), and the old keys stay dead: a re-add is a
  new decision to trust someone now, not a pardon for credentials made before,
  which the organization may have forgotten about.
- creator demoted below the key's role: the key pauses, and works again if the
  creator is given the role back (the membership, and the trust, never ended).

A key made by another key is attributed to the person behind that key, so a
chain of keys cannot launder a departed member's authority.
"""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from attrs import define, frozen

from thedata.domain.access import Role
from thedata.domain.credentials import api_key_display_prefix
from thedata.domain.errors import NotFound


@frozen
class KeyCreator:
    """The person who made a key, and where they stand in its organization now."""

    user_id: UUID
    email: str
    name: str
    role: Role | None
    """Their role now; ``None`` when they are no longer a member."""
    joined_at: datetime | None
    """When their current membership began; ``None`` when they are no longer a member."""


class KeyStatus(enum.Enum):
    """Whether a key authenticates now, and if not, why."""

    ACTIVE = "active"
    EXPIRED = "expired"
    CREATOR_LEFT = "creator_left"
    """The creator is no longer a member, or was removed since (a re-added creator too)."""
    CREATOR_DEMOTED = "creator_demoted"
    """The creator's role is below the key's now; the key works again if it is raised."""


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
    creator_joined_at: datetime | None = None
    """When the creator's membership the key was made under began; it names that membership."""
    creator: KeyCreator | None = None
    """The creator's standing now, read with the key; ``None`` if the account no longer exists."""

    @property
    def prefix(self) -> str:
        """The recognisable, non-secret start of the key."""
        return api_key_display_prefix(self.public_id)

    def is_expired(self, now: datetime) -> bool:
        """Whether the key has passed its expiry."""
        return self.expires_at is not None and self.expires_at <= now

    def status(self, now: datetime) -> KeyStatus:
        """Whether the key may act at ``now``, by its expiry and its creator's standing."""
        if self.is_expired(now):
            return KeyStatus.EXPIRED
        creator = self.creator
        if (
            creator is None
            or creator.role is None
            or self.creator_joined_at is None
            or creator.joined_at != self.creator_joined_at
        ):
            return KeyStatus.CREATOR_LEFT
        if not creator.role.covers(self.role):
            return KeyStatus.CREATOR_DEMOTED
        return KeyStatus.ACTIVE


@frozen
class ListedApiKey:
    """A key's record and its status at the moment it was listed."""

    record: ApiKey
    status: KeyStatus


class ApiKeyNotFound(NotFound):
    """No such key in the organization (it may have been revoked)."""

    code = "api_key_not_found"
