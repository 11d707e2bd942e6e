"""Field types every schema shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from thedata.domain.access import Role
from thedata.domain.users import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
)

# The patterns below restate the domain's rules (``check_display_name``, ``is_email``) in
# the document, so that what it calls valid the server takes; the server checks them here
# too, where JSON Schema and Python regular expressions agree (no ``\s``: their whitespace
# differs; what Python's ``str.strip`` removes is listed instead).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# a name: no control characters, and something besides spaces
NAME_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
# an email: one @, something on each side, a dot in the domain, no spaces or controls;
# around it, what ``str.strip`` removes
_EMAIL_PART = rf"[^@{_CONTROL}{_SPACE}]+"
_STRIPPED = rf"[\t\n\x0b\x0c\r\x1c-\x1f\x85{_SPACE}]*"
EMAIL_PATTERN = rf"^{_STRIPPED}{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}{_STRIPPED}$"

RoleName = Literal["owner", "admin", "member", "viewer"]
# signing in takes any text: a wrong one is a 401, like a wrong password
Email = Annotated[str, msgspec.Meta(max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])]
# the address of an account to make or to add
NewEmail = Annotated[
    str,
    msgspec.Meta(max_length=MAX_EMAIL_LENGTH, pattern=EMAIL_PATTERN, examples=["ada@example.com"]),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)]
# signing in takes any length (bounded, for the work of hashing); a new one meets the policy
Password = Annotated[str, msgspec.Meta(max_length=MAX_PASSWORD_LENGTH)]
NewPassword = Annotated[
    str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]
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
