"""Organizations in memory; deleting one deletes what belongs to it."""

from __future__ import annotations

from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables, page_of
from thedata.domain.organizations import Organization, OrganizationWithRole, SlugTaken
from thedata.domain.pagination import Page, PageRequest

# Tables whose rows belong to an organization, with the key part that names it.
OWNED_BY_ORGANIZATION = (
    "memberships",
    "api_keys",
    "pipelines",
    "pipeline_epochs",
    "data_sources",
    "secrets",
)


class InMemoryOrganizationRepository:
    """Organizations by id; locking is implicit (a memory unit of work holds the whole store)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[UUID, Organization]:
        return self._tables("organizations")

    def _check_slug(self, organization: Organization) -> None:
        if any(
            o.slug == organization.slug and o.id != organization.id for o in self._rows().values()
        ):
            raise SlugTaken(f"the slug {organization.slug!r} is taken")

    async def add(self, organization: Organization) -> None:
        self._check_slug(organization)
        self._rows()[organization.id] = evolve(organization)

    async def get(self, organization_id: UUID, *, lock: bool = False) -> Organization | None:
        organization = self._rows().get(organization_id)
        return evolve(organization) if organization else None

    async def slug_taken(self, slug: str) -> bool:
        return any(o.slug == slug for o in self._rows().values())

    async def update(self, organization: Organization) -> None:
        self._check_slug(organization)
        if organization.id in self._rows():
            self._rows()[organization.id] = evolve(organization)

    async def delete(self, organization_id: UUID) -> None:
        self._rows().pop(organization_id, None)
        for name in OWNED_BY_ORGANIZATION:
            table = self._tables(name)
            for key in [k for k in table if k[0] == organization_id]:
                del table[key]

    async def list_for_user(self, user_id: UUID, page: PageRequest) -> Page[OrganizationWithRole]:
        organizations = self._rows()
        mine = [
            OrganizationWithRole(evolve(organizations[org]), membership.role)
            for (org, user), membership in self._tables("memberships").items()
            if user == user_id
        ]
        return page_of(mine, page, lambda item: item.organization.id)
