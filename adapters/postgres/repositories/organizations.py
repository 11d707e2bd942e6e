"""Organizations in PostgreSQL; what belongs to one goes with it by ON DELETE CASCADE."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import errors

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.access import Role
from thedata.domain.organizations import Organization, OrganizationWithRole, SlugTaken
from thedata.domain.pagination import Page, PageRequest

_SELECT = "SELECT o.id, o.name, o.slug, o.created_at, o.updated_at FROM organizations o"
_MINE = (
    "SELECT o.id, o.name, o.slug, o.created_at, o.updated_at, m.role FROM memberships m"
    " JOIN organizations o ON o.id = m.organization_id"
)


def _organization(row: tuple[Any, ...]) -> Organization:
    return Organization(*row[:5])


class PostgresOrganizationRepository:
    """The ``organizations`` table."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, organization: Organization) -> None:
        o = organization
        try:
            await self._connection().execute(
                "INSERT INTO organizations (id, name, slug, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (o.id, o.name, o.slug, o.created_at, o.updated_at),
            )
        except errors.UniqueViolation as error:
            raise SlugTaken(f"the slug {o.slug!r} is taken") from error

    async def get(self, organization_id: UUID, *, lock: bool = False) -> Organization | None:
        query = _SELECT + " WHERE o.id = %s" + (" FOR UPDATE" if lock else "")
        cursor = await self._connection().execute(query, (organization_id,))
        row = await cursor.fetchone()
        return _organization(row) if row else None

    async def slug_taken(self, slug: str) -> bool:
        cursor = await self._connection().execute(
            "SELECT EXISTS (SELECT 1 FROM organizations WHERE slug = %s)", (slug,)
        )
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def update(self, organization: Organization) -> None:
        o = organization
        try:
            await self._connection().execute(
                "UPDATE organizations SET name = %s, slug = %s, updated_at = %s WHERE id = %s",
                (o.name, o.slug, o.updated_at, o.id),
            )
        except errors.UniqueViolation as error:
            raise SlugTaken(f"the slug {o.slug!r} is taken") from error

    async def delete(self, organization_id: UUID) -> None:
        # runs first, in the order a worker's claim takes them (a run, then its pipeline):
        # the cascade alone would lock the pipelines first, and meet a claim in a deadlock
        await self._connection().execute(
            "SELECT FROM runs WHERE organization_id = %s FOR UPDATE", (organization_id,)
        )
        await self._connection().execute(
            "DELETE FROM organizations WHERE id = %s", (organization_id,)
        )

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[OrganizationWithRole]:
        cursor = await self._connection().execute(
            _MINE + " WHERE m.user_id = %s AND (%s::uuid IS NULL OR m.organization_id > %s)"
            " ORDER BY m.organization_id LIMIT %s",
            (user_id, page.after, page.after, page.limit + 1),
        )
        rows = [
            OrganizationWithRole(_organization(row), Role(row[5]))
            for row in await cursor.fetchall()
        ]
        return Page.from_rows(rows, page, lambda item: item.organization.id)
