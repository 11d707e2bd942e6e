"""The few kinds of failure every rule of the business can end in.

Each concrete error (``PipelineNotFound``, ``RunAlreadyActive``, ...) is a fact
named after what happened and derives from one of these bases; delivery
mechanisms map the bases, never the concrete facts, to their own answers
(the HTTP edge to problem details, the CLI to exit codes).
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen


@frozen
class FieldError:
    """One invalid piece of input: where it is (a JSON pointer or a parameter) and why."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain and application raise on purpose.

    ``code`` is a stable, machine-readable name (it ends up in the problem
    ``type``); the message is for people and must never carry a secret.
    """

    code = "domain_error"


class NotFound(DomainError):
    """The resource does not exist, or belongs to an organization the caller cannot see."""

    code = "not_found"


class Conflict(DomainError):
    """The request contradicts the current state (duplicate name, resource in use, ...)."""

    code = "conflict"


class PermissionDenied(DomainError):
    """The caller is known and a member, but their role does not allow the action."""

    code = "permission_denied"


class InvalidInput(DomainError):
    """The input breaks a rule; ``errors`` names each offending field."""

    code = "invalid_input"

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[FieldError, ...] = tuple(errors)


class Unauthenticated(DomainError):
    """The caller sent no credentials, or credentials that are unknown, expired or revoked."""

    code = "unauthenticated"


class RateLimited(DomainError):
    """The caller made too many attempts; ``retry_after`` (seconds) says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
