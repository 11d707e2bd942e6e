"""Roles in an organization and what each may do: the permission matrix of the API."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """A member's (or API key's) standing in one organization, strongest first."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is stronger: owner 3 … viewer 0."""
        return _RANK[self]

    def covers(self, other: Role) -> bool:
        """Whether this role is at least as strong as ``other``."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Action(enum.Enum):
    """Everything a role can be allowed to do in an organization."""

    READ = "read"
    """See the organization and what belongs to it."""
    WRITE = "write"
    """Create, edit and run data sources and pipelines."""
    MANAGE_MEMBERS = "manage_members"
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_ORGANIZATION = "manage_organization"
    """Edit or delete the organization itself."""
    GRANT_OWNER = "grant_owner"
    """Make someone an owner, or change or remove an owner."""


# The weakest role allowed each action; every stronger role inherits it.
MINIMUM_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.WRITE: Role.MEMBER,
    Action.MANAGE_MEMBERS: Role.ADMIN,
    Action.MANAGE_API_KEYS: Role.ADMIN,
    Action.MANAGE_ORGANIZATION: Role.OWNER,
    Action.GRANT_OWNER: Role.OWNER,
}


def allows(role: Role, action: Action) -> bool:
    """Whether ``role`` may perform ``action``."""
    return role.covers(MINIMUM_ROLE[action])


def may_set_role(actor: Role, current: Role | None, new: Role | None) -> bool:
    """Whether ``actor`` may move a member from ``current`` to ``new`` (``None``: not a member).

    Managing members needs an admin; anything that makes, changes or removes an
    owner needs an owner. Whether the organization keeps an owner is a separate
    rule (``keeps_an_owner``), because it depends on the other members.
    """
    if not allows(actor, Action.MANAGE_MEMBERS):
        return False
    touches_owner = Role.OWNER in (current, new)
    return allows(actor, Action.GRANT_OWNER) or not touches_owner


def keeps_an_owner(owners: int, current: Role | None, new: Role | None) -> bool:
    """Whether an organization with ``owners`` owners still has one after the change."""
    losing = current is Role.OWNER and new is not Role.OWNER
    gaining = new is Role.OWNER and current is not Role.OWNER
    return owners - losing + gaining >= 1


def may_grant_key_role(creator: Role, key_role: Role) -> bool:
    """An API key never acts with more authority than whoever created it."""
    return allows(creator, Action.MANAGE_API_KEYS) and creator.covers(key_role)


def may_remove_member(actor: Role, target: Role, *, is_self: bool) -> bool:
    """Anyone may leave an organization; removing someone else is a change of role to none."""
    return is_self or may_set_role(actor, target, None)
