"""Bodies of sign-up, sign-in and the user's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from thedata.application.use_cases import IssuedToken, Registration, UserProfile
from thedata.domain.users import User
from thedata.entrypoints.http.schemas.common import (
    Email,
    Name,
    NewEmail,
    NewPassword,
    Password,
    Request,
    RoleName,
    role_name,
    utc,
)


class RegisterRequest(Request):
    """A new account."""

    email: NewEmail
    password: NewPassword
    name: Name


class TokenRequest(Request):
    """Sign-in credentials."""

    email: Email
    password: Password


class UpdateMeRequest(Request):
    """Changes to one's own account; a new ``password`` needs ``current_password``."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    password: NewPassword | msgspec.UnsetType = msgspec.UNSET
    current_password: Password | msgspec.UnsetType = msgspec.UNSET


class UserBody(msgspec.Struct, frozen=True):
    """A user's public details."""

    id: UUID
    email: str
    name: str
    created_at: datetime


class MembershipBody(msgspec.Struct, frozen=True):
    """The user's role in one organization."""

    organization_id: UUID
    role: RoleName


class MeBody(msgspec.Struct, frozen=True):
    """The signed-in user and their memberships."""

    id: UUID
    email: str
    name: str
    created_at: datetime
    memberships: list[MembershipBody]


class TokenBody(msgspec.Struct, frozen=True):
    """A new access token."""

    access_token: str
    expires_at: datetime
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class RegistrationBody(msgspec.Struct, frozen=True):
    """The new account and an access token for it."""

    user: UserBody
    access_token: str
    expires_at: datetime
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret


def user_body(user: User) -> UserBody:
    """The public view of a user."""
    return UserBody(id=user.id, email=user.email, name=user.name, created_at=utc(user.created_at))


def me_body(profile: UserProfile) -> MeBody:
    """The caller's own view of their account."""
    user = profile.user
    memberships = [
        MembershipBody(organization_id=UUID(org), role=role_name(role))
        for org, role in profile.roles.items()
    ]
    return MeBody(user.id, user.email, user.name, utc(user.created_at), memberships)


def token_body(issued: IssuedToken) -> TokenBody:
    """The answer to a sign-in."""
    return TokenBody(access_token=issued.access_token, expires_at=utc(issued.expires_at))


def registration_body(registration: Registration) -> RegistrationBody:
    """The answer to a sign-up."""
    return RegistrationBody(
        user=user_body(registration.user),
        access_token=registration.access_token,
        expires_at=utc(registration.expires_at),
    )
