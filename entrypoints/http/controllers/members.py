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
        """The organization's members."""
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
        """Add a registered user (404 if no account has the email; 409 if already a member)."""
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
        """A new role; 409 if it would leave no owner."""
        return member_body(await change_member_role(principal, org_id, user_id, Role(data.role)))

    @delete("/{user_id:uuid}", summary="Remove a member", responses=PROBLEMS)
    async def remove_member(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        user_id: FromPath[UUID],
        remove_member: Injected[RemoveMember],
    ) -> None:
        """Remove a member, or leave (your own id); 409 for the last owner."""
        await remove_member(principal, org_id, user_id)
