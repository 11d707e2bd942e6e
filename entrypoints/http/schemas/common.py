"""Field types every schema shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from thedata.domain.access import Role
from thedata.domain.users import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_PASSWORD_LENGTH

RoleName = Literal["owner", "admin", "member", "viewer"]
Email = Annotated[str, msgspec.Meta(max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
# the policy's minimum is checked by the domain; this only bounds the work of hashing
Password = Annotated[str, msgspec.Meta(max_length=MAX_PASSWORD_LENGTH)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


def utc(moment: datetime) -> datetime:
    """Timestamps leave the API in UTC, whatever the database session's time zone."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def role_name(role: Role) -> RoleName:
    """The role as the API spells it."""
    name: RoleName = role.value
    return name


class Request(msgspec.Struct, forbid_unknown_fields=True):
    """Base of request bodies: an unknown field is an error, not silently dropped."""
