"""Who is calling: a signed-in user or an organization's API key."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from uuid import UUID

from attrs import field, frozen

from thedata.domain.access import Role


class PrincipalKind(enum.Enum):
    """What kind of credential authenticated the caller."""

    USER = "user"
    API_KEY = "api_key"


def _read_only(roles: Mapping[UUID, Role]) -> Mapping[UUID, Role]:
    return MappingProxyType(dict(roles))


@frozen
class Principal:
    """The authenticated caller and its role in each organization it may act in.

    Resolved once per request. A user's roles are those of their memberships;
    an API key has exactly one organization and the role it was created with.
    """

    kind: PrincipalKind
    id: UUID
    """The user's id, or the API key's id."""
    roles: Mapping[UUID, Role] = field(converter=_read_only)
    token_hash: bytes | None = None
    """For a user: the hash of the access token used, so logout can revoke exactly it."""

    @classmethod
    def user(cls, user_id: UUID, roles: Mapping[UUID, Role], token_hash: bytes) -> Principal:
        """A user signed in with the access token whose hash is ``token_hash``."""
        return cls(PrincipalKind.USER, user_id, roles, token_hash)

    @classmethod
    def api_key(cls, key_id: UUID, organization_id: UUID, role: Role) -> Principal:
        """An API key of ``organization_id`` acting with ``role``."""
        return cls(PrincipalKind.API_KEY, key_id, {organization_id: role})

    @property
    def user_id(self) -> UUID | None:
        """The user behind the call, if a user (and not a service) is calling."""
        return self.id if self.kind is PrincipalKind.USER else None

    def role_in(self, organization_id: UUID) -> Role | None:
        """The caller's role in the organization, or ``None`` when not a member."""
        return self.roles.get(organization_id)

    @property
    def scope(self) -> str:
        """A stable name of the caller, for keys that belong to it (idempotency, limits)."""
        return f"{self.kind.value}:{self.id}"
