"""Memberships in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.access import Role
from thedata.domain.organizations import Member, Membership
from thedata.domain.pagination import Page, PageRequest

_MEMBER = (
    "SELECT m.user_id, u.email, u.name, m.role, m.joined_at"
    " FROM memberships m JOIN users u ON u.id = m.user_id"
)


def _member(row: tuple[Any, ...]) -> Member:
    user_id, email, name, role, joined_at = row
    return Member(user_id, email, name, Role(role), joined_at)


class PostgresMembershipRepository:
    """The ``memberships`` table, joined with ``users`` for the members' details."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, membership: Membership) -> None:
        m = membership
        await self._connection().execute(
            "INSERT INTO memberships (organization_id, user_id, role, joined_at)"
            " VALUES (%s, %s, %s, %s)",
            (m.organization_id, m.user_id, m.role.value, m.joined_at),
        )

    async def get(self, organization_id: UUID, user_id: UUID) -> Member | None:
        cursor = await self._connection().execute(
            _MEMBER + " WHERE m.organization_id = %s AND m.user_id = %s",
            (organization_id, user_id),
        )
        row = await cursor.fetchone()
        return _member(row) if row else None

    async def set_role(self, organization_id: UUID, user_id: UUID, role: Role) -> None:
        await self._connection().execute(
            "UPDATE memberships SET role = %s WHERE organization_id = %s AND user_id = %s",
            (role.value, organization_id, user_id),
        )

    async def remove(self, organization_id: UUID, user_id: UUID) -> None:
        await self._connection().execute(
            "DELETE FROM memberships WHERE organization_id = %s AND user_id = %s",
            (organization_id, user_id),
        )

    async def count_owners(self, organization_id: UUID) -> int:
        cursor = await self._connection().execute(
            "SELECT count(*) FROM memberships WHERE organization_id = %s AND role = 'owner'",
            (organization_id,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Member]:
        cursor = await self._connection().execute(
            _MEMBER + " WHERE m.organization_id = %s AND (%s::uuid IS NULL OR m.user_id > %s)"
            " ORDER BY m.user_id LIMIT %s",
            (organization_id, page.after, page.after, page.limit + 1),
        )
        rows = [_member(row) for row in await cursor.fetchall()]
        return Page.from_rows(rows, page, lambda member: member.user_id)
