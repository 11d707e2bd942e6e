"""The role and permission matrix of API.md, checked as properties over every combination."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from thedata.domain.access import (
    Action,
    Role,
    allows,
    keeps_an_owner,
    may_grant_key_role,
    may_remove_member,
    may_set_role,
)

# API.md, written out independently of the code: "viewer reads; member also creates,
# edits and runs …; admin also manages members and API keys; owner also edits or
# deletes the organization and grants owner".
VIEWER = {Action.READ}
MEMBER = VIEWER | {Action.WRITE}
ADMIN = MEMBER | {Action.MANAGE_MEMBERS, Action.MANAGE_API_KEYS}
OWNER = ADMIN | {Action.MANAGE_ORGANIZATION, Action.GRANT_OWNER}
GRANTED = {Role.VIEWER: VIEWER, Role.MEMBER: MEMBER, Role.ADMIN: ADMIN, Role.OWNER: OWNER}

roles = st.sampled_from(Role)
maybe_roles = st.none() | roles
actions = st.sampled_from(Action)


@given(role=roles, action=actions)
def test_each_role_may_do_exactly_what_the_api_grants_it(role: Role, action: Action) -> None:
    """``allows`` agrees with the matrix of API.md for every role and action."""
    assert allows(role, action) == (action in GRANTED[role])


@given(stronger=roles, weaker=roles, action=actions)
def test_a_stronger_role_never_loses_a_permission(
    stronger: Role, weaker: Role, action: Action
) -> None:
    """Roles are ordered: whatever a role may do, every stronger role may do too."""
    if stronger.covers(weaker) and allows(weaker, action):
        assert allows(stronger, action)


@given(actor=roles, current=maybe_roles, new=maybe_roles)
def test_admins_manage_members_but_only_owners_touch_owners(
    actor: Role, current: Role | None, new: Role | None
) -> None:
    """Changing a membership needs an admin; making, changing or removing an owner an owner."""
    touches_owner = Role.OWNER in (current, new)
    expected = actor is Role.OWNER or (actor is Role.ADMIN and not touches_owner)
    assert may_set_role(actor, current, new) == expected


@given(actor=roles, target=roles, is_self=st.booleans())
def test_anyone_may_leave_and_removing_others_follows_the_role_rules(
    actor: Role, target: Role, *, is_self: bool
) -> None:
    """Leaving is always allowed by role; removing another is a change of role to none."""
    expected = is_self or may_set_role(actor, target, None)
    assert may_remove_member(actor, target, is_self=is_self) == expected


@given(owners=st.integers(min_value=1, max_value=5), current=maybe_roles, new=maybe_roles)
def test_a_change_is_refused_exactly_when_no_owner_would_remain(
    owners: int, current: Role | None, new: Role | None
) -> None:
    """The owner count after the change decides, whatever the roles involved."""
    after = owners - (current is Role.OWNER) + (new is Role.OWNER)
    assert keeps_an_owner(owners, current, new) == (after >= 1)


@given(creator=roles, key_role=roles)
def test_a_key_never_outranks_its_creator(creator: Role, key_role: Role) -> None:
    """Only admins and owners create keys, and never with a role above their own."""
    expected = creator in (Role.ADMIN, Role.OWNER) and creator.rank >= key_role.rank
    assert may_grant_key_role(creator, key_role) == expected
