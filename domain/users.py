"""People who sign in, and the rules for what they sign in with."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from uuid import UUID

from attrs import define

from thedata.domain.errors import Conflict, FieldError, InvalidInput, PermissionDenied

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase; short enough that hashing it is never a denial of service.
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path

# One @, something on each side, a dot in the domain, no spaces or control characters:
# what a form should refuse. Deliverability is the mail server's business, not ours.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def normalize_email(email: str, *, field: str = "/email") -> str:
    """The email in the one form it is stored and compared in (trimmed, lower case)."""
    normalized = email.strip().lower()
    if not is_email(normalized):
        raise InvalidInput("the email address is invalid", [FieldError(field, "not an email")])
    return normalized


def check_password(password: str, *, field: str = "/password") -> None:
    """Refuse a password outside the policy (length only, as NIST SP 800-63B advises)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    elif len(password) > MAX_PASSWORD_LENGTH:
        message = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    else:
        return
    raise InvalidInput("the password does not meet the policy", [FieldError(field, message)])


def is_email(normalized: str) -> bool:
    """Whether a trimmed, lower-cased text has the shape of an email address."""
    return len(normalized) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(normalized) is not None


def check_display_name(name: str, *, field: str = "/name") -> str:
    """A name as shown to people: trimmed, 1 to 200 characters, no control characters."""
    trimmed = name.strip()
    if not trimmed or len(trimmed) > MAX_NAME_LENGTH:
        message = f"must be 1 to {MAX_NAME_LENGTH} characters"
    elif any(unicodedata.category(c) == "Cc" for c in trimmed):
        message = "must not contain control characters"
    else:
        return trimmed
    raise InvalidInput("the name is invalid", [FieldError(field, message)])


@define
class User:
    """A person with an account; ``password_hash`` carries its own KDF parameters."""

    id: UUID
    email: str
    name: str
    password_hash: str
    created_at: datetime
    updated_at: datetime


class EmailTaken(Conflict):
    """Another account already uses this email (compared case-insensitively)."""

    code = "email_taken"


class SignupDisabled(PermissionDenied):
    """This deployment does not let people register themselves."""

    code = "signup_disabled"


class NotAUser(PermissionDenied):
    """The action is about a person's own account, and an API key is calling."""

    code = "not_a_user"
