"""Repositories of users, organizations, memberships, credentials and login failures.

Each is reached through a unit of work (``uow.users`` …) and works inside its
transaction. ``add`` and ``update`` raise the domain's conflict errors
(``EmailTaken``, ``SlugTaken``) when a uniqueness rule is broken, also when a
concurrent transaction broke it first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from thedata.domain.access import Role
from thedata.domain.api_keys import ApiKey
from thedata.domain.organizations import Member, Membership, Organization, OrganizationWithRole
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.principal import Principal
from thedata.domain.tokens import AccessToken
from thedata.domain.users import User


class UserRepository(Protocol):
    """Accounts, found by id or by (normalized) email."""

    async def add(self, user: User) -> None:
        """Store a new user; ``EmailTaken`` if the email is in use."""
        ...

    async def get(self, user_id: UUID) -> User | None:
        """The user, if there is one."""
        ...

    async def get_by_email(self, email: str) -> User | None:
        """The user with this normalized email, if there is one."""
        ...

    async def update(self, user: User) -> None:
        """Store the user's changed name, password hash and ``updated_at``."""
        ...


class OrganizationRepository(Protocol):
    """Organizations; deleting one deletes everything that belongs to it."""

    async def add(self, organization: Organization) -> None:
        """Store a new organization; ``SlugTaken`` if the slug is in use."""
        ...

    async def get(self, organization_id: UUID, *, lock: bool = False) -> Organization | None:
        """The organization; with ``lock``, concurrent locking units of work wait for this one.

        Changes to an organization's members lock it first, so that two of them
        cannot both decide that the other leaves an owner behind.
        """
        ...

    async def slug_taken(self, slug: str) -> bool:
        """Whether some organization has this slug."""
        ...

    async def update(self, organization: Organization) -> None:
        """Store the changed name, slug and ``updated_at``; ``SlugTaken`` if in use."""
        ...

    async def delete(self, organization_id: UUID) -> None:
        """Delete the organization with its memberships, API keys and everything else it owns."""
        ...

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[OrganizationWithRole]:
        """The user's organizations with the user's role in each, in id order."""
        ...


class MembershipRepository(Protocol):
    """Who belongs to which organization, with which role."""

    async def add(self, membership: Membership) -> None:
        """Store a new membership (the user is not yet a member)."""
        ...

    async def get(self, organization_id: UUID, user_id: UUID) -> Member | None:
        """The member with the user's details, if the user belongs to the organization."""
        ...

    async def set_role(self, organization_id: UUID, user_id: UUID, role: Role) -> None:
        """Change an existing member's role."""
        ...

    async def remove(self, organization_id: UUID, user_id: UUID) -> None:
        """Remove an existing member."""
        ...

    async def count_owners(self, organization_id: UUID) -> int:
        """How many owners the organization has."""
        ...

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Member]:
        """The organization's members in user-id order."""
        ...


class ApiKeyRepository(Protocol):
    """Organization API keys, stored with the hash of their secret only.

    Every read fills ``ApiKey.creator`` with the creator's details and current
    membership in the key's organization, in the same lookup as the key, so
    that authenticating a key costs one round trip and sees its creator's
    standing as of that instant.
    """

    async def add(self, key: ApiKey) -> None:
        """Store a new key (its ``creator`` is not stored: it is read from the members)."""
        ...

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKey | None:
        """The organization's key, if it exists."""
        ...

    async def get_by_public_id(self, public_id: str) -> ApiKey | None:
        """The key whose public id is ``public_id``, in any organization."""
        ...

    async def delete(self, organization_id: UUID, key_id: UUID) -> bool:
        """Delete the key; ``False`` if the organization had no such key."""
        ...

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[ApiKey]:
        """The organization's keys in id order."""
        ...

    async def mark_used(self, key_id: UUID, at: datetime) -> None:
        """Record that the key authenticated a request at ``at``."""
        ...


class AccessTokenRepository(Protocol):
    """Access tokens by hash; revoking deletes, so the next lookup fails."""

    async def add(self, token: AccessToken) -> None:
        """Store a new token."""
        ...

    async def principal_for(self, token_hash: bytes, now: datetime) -> Principal | None:
        """The user and all their roles for an unexpired token, in one lookup; else ``None``."""
        ...

    async def revoke(self, token_hash: bytes) -> None:
        """Make the token stop working."""
        ...

    async def revoke_all_of(self, user_id: UUID, *, keep: bytes | None = None) -> None:
        """Make every token of the user stop working, except ``keep``."""
        ...

    async def purge_expired(self, user_id: UUID, now: datetime) -> None:
        """Forget the user's expired tokens (they no longer work anyway)."""
        ...


class LoginThrottle(Protocol):
    """Counts password attempts per key (see ``password_attempts``) in fixed windows."""

    async def register_attempt(
        self, limits: Mapping[str, int], now: datetime, window: timedelta
    ) -> timedelta | None:
        """Count one attempt on every key, unless a key is at its limit; then how long to wait.

        ``limits`` maps each key to the attempts it allows per window. A key's
        window starts with its first attempt and lasts ``window``; the next
        attempt after it starts a new one. All or nothing: an attempt that one
        key refuses is counted on no key, so hammering a closed key does not
        spill over onto wider ones. Counting and checking is one step, so
        concurrent attempts cannot all pass a check made before any counted.
        """
        ...

    async def forgive(self, keys: Sequence[str], *, clear: Sequence[str] = ()) -> None:
        """Uncount one attempt on each of ``keys`` (it succeeded); forget ``clear`` altogether."""
        ...

    async def known(self, key: str, now: datetime) -> bool:
        """Whether ``key`` was remembered until after ``now``."""
        ...

    async def remember(self, key: str, until: datetime) -> None:
        """Know ``key`` until ``until`` (a later ``remember`` moves it)."""
        ...

    async def purge_expired(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` keys whose window started at or before ``before``; how many went.

        With ``before`` = now - window those windows are over: the next attempt
        on such a key starts a new window whether its row is there or not, so
        purging changes no decision. Rows another transaction holds are skipped.
        """
        ...
