"""``/v1/orgs/{org_id}/members``: who belongs to an organization."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from thedata.application.use_cases import (
    AddMember,
    ChangeMemberRole,
    ListMembers,
    NewMember,
    RemoveMember,
)
from thedata.domain.access import Role
from thedata.domain.organizations import Member
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.organizations import (
    AddMemberRequest,
    ChangeRoleRequest,
    MemberBody,
    MemberPage,
    member_body,
)

CREATION: Creation[Member, MemberBody] = Creation(member_body)

PROBLEMS = RESOURCE_PROBLEMS


class MemberController(Controller):
    """Members: any member lists; admins add, change and remove; owners handle owners."""

    path = "/v1/orgs/{org_id:uuid}/members"
    tags = ["Organizations and members"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "list_members": caller_use_case(lambda c: c.list_members),
        "add_member": caller_use_case(lambda c: c.add_member),
        "change_member_role": caller_use_case(lambda c: c.change_member_role),
        "remove_member": caller_use_case(lambda c: c.remove_member),
    }

    @get(summary="List members", responses=PROBLEMS)
    async def list_members(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        list_members: Injected[ListMembers],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> MemberPage:
        """The organization's members, with their roles.

        Any member. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page). An organization the caller is not a member of
        answers 404, never 403.
        """
        page = page_request(limit, cursor)
        return page_body(MemberPage, await list_members(principal, org_id, page), member_body)

    @post(summary="Add a member", responses=PROBLEMS)
    async def add_member(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data: JSONBody[AddMemberRequest],
        add_member: Injected[AddMember],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MemberBody]:
        """Add a registered user to the organization, by the email of their account, with a role.

        Admins and owners; only an owner grants `owner`. No account with the email: 404; already a
        member: 409. Retry it safely with an `Idempotency-Key`: the same key and body answer the
        first response again (with `Idempotent-Replayed: true`) and create nothing; the same key
        with another body is 409. Keys are kept 24 hours.
        """
        command = NewMember(email=data.email, role=Role(data.role))
        idempotency = await CREATION.request(request, idempotency_key)
        return CREATION.respond(await add_member(principal, org_id, command, idempotency))

    @patch("/{user_id:uuid}", summary="Change a member's role", responses=PROBLEMS)
    async def change_member_role(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        user_id: FromPath[UUID],
        data: JSONBody[ChangeRoleRequest],
        change_member_role: Injected[ChangeMemberRole],
    ) -> MemberBody:
        """Give a member another role.

        Admins and owners; only an owner grants `owner` or changes an owner. A change that would
        leave the organization without an owner is 409. An organization the caller is not a member
        of answers 404, never 403.
        """
        return member_body(await change_member_role(principal, org_id, user_id, Role(data.role)))

    @delete("/{user_id:uuid}", summary="Remove a member", responses=PROBLEMS)
    async def remove_member(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        user_id: FromPath[UUID],
        remove_member: Injected[RemoveMember],
    ) -> None:
        """Remove a member, or leave the organization (your own user id) (204).

        Admins and owners remove others (an owner only by an owner); anyone may leave. The last
        owner cannot go: 409. The member's API keys stop for good. An organization the caller is not
        a member of answers 404, never 403.
        """
        await remove_member(principal, org_id, user_id)
