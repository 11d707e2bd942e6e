"""Bodies of organizations and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from thedata.domain.organizations import (
    MAX_SLUG_LENGTH,
    MIN_SLUG_LENGTH,
    Member,
    OrganizationWithRole,
)
from thedata.entrypoints.http.schemas.common import (
    Name,
    NewEmail,
    Request,
    RoleName,
    role_name,
    utc,
)

# ``check_slug``'s rule, stated in the document: a DNS-label-like name
Slug = Annotated[
    str,
    msgspec.Meta(
        min_length=MIN_SLUG_LENGTH,
        max_length=MAX_SLUG_LENGTH,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
        examples=["acme-data"],
    ),
]


class CreateOrganizationRequest(Request):
    """A new organization; the slug is derived from the name when not given."""

    name: Name
    slug: Slug | msgspec.UnsetType = msgspec.UNSET


class UpdateOrganizationRequest(Request):
    """Changes to an organization."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET


class OrganizationBody(msgspec.Struct, frozen=True):
    """An organization and the caller's role in it."""

    id: UUID
    name: str
    slug: str
    role: RoleName
    created_at: datetime
    updated_at: datetime


class OrganizationPage(msgspec.Struct, frozen=True):
    """A page of organizations."""

    items: list[OrganizationBody]
    next_cursor: str | None


class AddMemberRequest(Request):
    """Who to add, by the email of their account, and with which role."""

    email: NewEmail
    role: RoleName


class ChangeRoleRequest(Request):
    """A member's new role."""

    role: RoleName


class MemberBody(msgspec.Struct, frozen=True):
    """A member of an organization."""

    user_id: UUID
    email: str
    name: str
    role: RoleName
    joined_at: datetime


class MemberPage(msgspec.Struct, frozen=True):
    """A page of members."""

    items: list[MemberBody]
    next_cursor: str | None


def organization_body(item: OrganizationWithRole) -> OrganizationBody:
    """An organization as the caller sees it."""
    o = item.organization
    return OrganizationBody(
        o.id, o.name, o.slug, role_name(item.role), utc(o.created_at), utc(o.updated_at)
    )


def member_body(member: Member) -> MemberBody:
    """A member as lists show it."""
    return MemberBody(
        member.user_id, member.email, member.name, role_name(member.role), utc(member.joined_at)
    )
