"""The one place that decides whether a principal may act in an organization."""

from __future__ import annotations

from uuid import UUID

from thedata.domain.access import Action, Role, allows
from thedata.domain.errors import PermissionDenied
from thedata.domain.organizations import OrganizationNotFound
from thedata.domain.principal import Principal
from thedata.domain.users import NotAUser

_WHAT: dict[Action, str] = {
    Action.READ: "read this organization",
    Action.WRITE: "create, edit or run data sources and pipelines",
    Action.MANAGE_MEMBERS: "manage members",
    Action.MANAGE_API_KEYS: "manage API keys",
    Action.MANAGE_ORGANIZATION: "edit or delete the organization",
    Action.GRANT_OWNER: "grant, change or remove the owner role",
}


def authorize(principal: Principal, organization_id: UUID, action: Action) -> Role:
    """The principal's role, if it allows ``action`` in the organization.

    A caller who is not a member learns nothing: ``OrganizationNotFound``, as
    for an organization that does not exist. A member whose role is too weak
    gets ``PermissionDenied``.
    """
    role = principal.role_in(organization_id)
    if role is None:
        raise OrganizationNotFound(f"organization {organization_id} not found")
    if not allows(role, action):
        raise forbidden(role, action)
    return role


def forbidden(role: Role, action: Action) -> PermissionDenied:
    """The error for a role that may not perform ``action``."""
    return PermissionDenied(f"the role {role.value!r} may not {_WHAT[action]}")


def require_user(principal: Principal) -> UUID:
    """The calling user's id; API keys act for an organization, never as a person."""
    if principal.user_id is None:
        raise NotAUser("this action needs a user's access token, not an API key")
    return principal.user_id
