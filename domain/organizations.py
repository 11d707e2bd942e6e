"""Organizations (the tenants) and who belongs to them."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from uuid import UUID

from attrs import define, frozen

from thedata.domain.access import Role
from thedata.domain.errors import Conflict, FieldError, InvalidInput, NotFound

MIN_SLUG_LENGTH = 3
MAX_SLUG_LENGTH = 63
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def check_slug(slug: str, *, field: str = "/slug") -> str:
    """A slug is a DNS-label-like name: lower-case letters, digits and inner hyphens."""
    if MIN_SLUG_LENGTH <= len(slug) <= MAX_SLUG_LENGTH and _SLUG.fullmatch(slug):
        return slug
    message = (
        f"must be {MIN_SLUG_LENGTH} to {MAX_SLUG_LENGTH} lower-case letters, digits or "
        "hyphens, starting and ending with a letter or digit"
    )
    raise InvalidInput("the slug is invalid", [FieldError(field, message)])


def slug_from_name(name: str) -> str:
    """The slug an organization gets when none is asked for (may still be taken)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_SLUG_LENGTH]
    slug = slug.rstrip("-")
    return slug if len(slug) >= MIN_SLUG_LENGTH else (slug + "-org").lstrip("-")


@define
class Organization:
    """A tenant: everything else (members, keys, data sources, pipelines) belongs to one."""

    id: UUID
    name: str
    slug: str
    created_at: datetime
    updated_at: datetime


@frozen
class Membership:
    """A user's role in an organization."""

    organization_id: UUID
    user_id: UUID
    role: Role
    joined_at: datetime


@frozen
class Member:
    """A membership with the user's public details, as member lists show it."""

    user_id: UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


@frozen
class OrganizationWithRole:
    """One of the caller's organizations and the caller's role in it."""

    organization: Organization
    role: Role


class OrganizationNotFound(NotFound):
    """No such organization, or the caller is not a member of it."""

    code = "organization_not_found"


class SlugTaken(Conflict):
    """Another organization already has this slug."""

    code = "slug_taken"


class MemberNotFound(NotFound):
    """The user is not a member of the organization (or has no account, when adding)."""

    code = "member_not_found"


class AlreadyMember(Conflict):
    """The user already belongs to the organization; change their role instead."""

    code = "already_member"


class LastOwner(Conflict):
    """The change would leave the organization without an owner."""

    code = "last_owner"
