"""Access tokens: what a user signs in for."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import frozen

from thedata.domain.errors import RateLimited, Unauthenticated


@frozen
class AccessToken:
    """The stored record of an access token: its hash, its user and when it stops working."""

    token_hash: bytes
    user_id: UUID
    created_at: datetime
    expires_at: datetime


class InvalidCredentials(Unauthenticated):
    """The email and password do not match an account (which of the two is never said)."""

    code = "invalid_credentials"


class TooManyLoginAttempts(RateLimited):
    """Too many failed logins for this account or from this address; wait ``retry_after``."""

    code = "too_many_login_attempts"
