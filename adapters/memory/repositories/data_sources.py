"""Data sources in memory, keyed by (organization id, data source id)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables, page_of
from thedata.domain.data_sources import (
    DataSource,
    DataSourceHealth,
    DataSourceInUse,
    DataSourceNameTaken,
)
from thedata.domain.pagination import Page, PageRequest


class InMemoryDataSourceRepository:
    """Data sources; names unique per organization, as the database's constraint makes them."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[tuple[UUID, UUID], DataSource]:
        return self._tables("data_sources")

    def _check_name(self, data_source: DataSource) -> None:
        for (org, other_id), other in self._rows().items():
            same = org == data_source.organization_id and other.name == data_source.name
            if same and other_id != data_source.id:
                raise DataSourceNameTaken(f"a data source is named {data_source.name!r}")

    async def add(self, data_source: DataSource) -> None:
        self._check_name(data_source)
        self._rows()[(data_source.organization_id, data_source.id)] = evolve(data_source)

    async def get(
        self, organization_id: UUID, data_source_id: UUID, *, lock: bool = False
    ) -> DataSource | None:
        # a memory unit of work holds the whole store, so every read is locked already
        data_source = self._rows().get((organization_id, data_source_id))
        return evolve(data_source) if data_source else None

    async def get_many(
        self, organization_id: UUID, data_source_ids: Collection[UUID]
    ) -> dict[UUID, DataSource]:
        rows = self._rows()
        found = (rows.get((organization_id, i)) for i in set(data_source_ids))
        return {d.id: evolve(d) for d in found if d is not None}

    async def update(self, data_source: DataSource) -> None:
        self._check_name(data_source)
        key = (data_source.organization_id, data_source.id)
        if key in self._rows():
            health = self._rows()[key].health
            self._rows()[key] = evolve(data_source, health=health)

    async def delete(self, organization_id: UUID, data_source_id: UUID) -> None:
        # the database's foreign keys refuse this; the fake refuses it the same way
        if any(
            data_source_id in (p.source_id, p.destination_id)
            for p in self._tables("pipelines").values()
        ):
            raise DataSourceInUse("a pipeline uses this data source; change or delete it first")
        self._rows().pop((organization_id, data_source_id), None)

    async def secret_references(self) -> set[tuple[UUID, str]]:
        return {
            (org, reference)
            for (org, _), data_source in self._rows().items()
            for reference in data_source.secrets.values()
        }

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[DataSource]:
        rows = [evolve(d) for (org, _), d in self._rows().items() if org == organization_id]
        return page_of(rows, page, lambda data_source: data_source.id)

    async def record_health(self, data_source_id: UUID, health: DataSourceHealth) -> None:
        for key, data_source in self._rows().items():
            if data_source.id == data_source_id:
                self._rows()[key] = evolve(data_source, health=health)
