"""Memberships in memory, keyed by (organization id, user id)."""

from __future__ import annotations

from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables, page_of
from thedata.domain.access import Role
from thedata.domain.organizations import Member, Membership
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.users import User


class InMemoryMembershipRepository:
    """Memberships, joined with the users table for members' details."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[tuple[UUID, UUID], Membership]:
        return self._tables("memberships")

    def _member(self, membership: Membership) -> Member:
        user: User = self._tables("users")[membership.user_id]
        return Member(user.id, user.email, user.name, membership.role, membership.joined_at)

    async def add(self, membership: Membership) -> None:
        self._rows()[(membership.organization_id, membership.user_id)] = membership

    async def get(self, organization_id: UUID, user_id: UUID) -> Member | None:
        membership = self._rows().get((organization_id, user_id))
        return self._member(membership) if membership else None

    async def set_role(self, organization_id: UUID, user_id: UUID, role: Role) -> None:
        key = (organization_id, user_id)
        if key in self._rows():
            self._rows()[key] = evolve(self._rows()[key], role=role)

    async def remove(self, organization_id: UUID, user_id: UUID) -> None:
        self._rows().pop((organization_id, user_id), None)

    async def count_owners(self, organization_id: UUID) -> int:
        return sum(
            1
            for (org, _), m in self._rows().items()
            if org == organization_id and m.role is Role.OWNER
        )

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Member]:
        members = [
            self._member(m) for (org, _), m in self._rows().items() if org == organization_id
        ]
        return page_of(members, page, lambda member: member.user_id)
