"""Data sources in PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from psycopg import errors
from psycopg.types.json import Jsonb

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.data_sources import (
    DataSource,
    DataSourceHealth,
    DataSourceInUse,
    DataSourceKind,
    DataSourceNameTaken,
)
from thedata.domain.pagination import Page, PageRequest

_SELECT = (
    "SELECT id, organization_id, name, kind, config, secret_references, created_at, updated_at,"
    " circuit, circuit_open_until, last_check_at, last_error FROM data_sources"
)


def _data_source(row: tuple[Any, ...]) -> DataSource:
    (id_, org, name, kind, config, secrets, created, updated, circuit, until, checked, error) = row
    health = DataSourceHealth(circuit, until, checked, error)
    return DataSource(
        id_, org, name, DataSourceKind(kind), config, dict(secrets), created, updated, health
    )


class PostgresDataSourceRepository:
    """The ``data_sources`` table; health columns change only through ``record_health``."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, data_source: DataSource) -> None:
        d = data_source
        try:
            await self._connection().execute(
                "INSERT INTO data_sources (id, organization_id, name, kind, config,"
                " secret_references, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    d.id,
                    d.organization_id,
                    d.name,
                    d.kind.value,
                    Jsonb(dict(d.config)),
                    Jsonb(dict(d.secrets)),
                    d.created_at,
                    d.updated_at,
                ),
            )
        except errors.UniqueViolation as error:
            raise DataSourceNameTaken(f"a data source is named {d.name!r}") from error

    async def get(
        self, organization_id: UUID, data_source_id: UUID, *, lock: bool = False
    ) -> DataSource | None:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND id = %s" + (" FOR UPDATE" if lock else ""),
            (organization_id, data_source_id),
        )
        row = await cursor.fetchone()
        return _data_source(row) if row else None

    async def get_many(
        self, organization_id: UUID, data_source_ids: Collection[UUID]
    ) -> dict[UUID, DataSource]:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND id = ANY(%s)",
            (organization_id, list(data_source_ids)),
        )
        return {d.id: d for d in map(_data_source, await cursor.fetchall())}

    async def update(self, data_source: DataSource) -> None:
        d = data_source
        try:
            await self._connection().execute(
                "UPDATE data_sources SET name = %s, config = %s, secret_references = %s,"
                " updated_at = %s WHERE organization_id = %s AND id = %s",
                (
                    d.name,
                    Jsonb(dict(d.config)),
                    Jsonb(dict(d.secrets)),
                    d.updated_at,
                    d.organization_id,
                    d.id,
                ),
            )
        except errors.UniqueViolation as error:
            raise DataSourceNameTaken(f"a data source is named {d.name!r}") from error

    async def delete(self, organization_id: UUID, data_source_id: UUID) -> None:
        try:
            await self._connection().execute(
                "DELETE FROM data_sources WHERE organization_id = %s AND id = %s",
                (organization_id, data_source_id),
            )
        except errors.ForeignKeyViolation as error:
            # a pipeline created by a concurrent request after the caller's check
            raise DataSourceInUse(
                "a pipeline uses this data source; change or delete it first"
            ) from error

    async def secret_references(self) -> set[tuple[UUID, str]]:
        cursor = await self._connection().execute(
            "SELECT organization_id, value FROM data_sources, jsonb_each_text(secret_references)"
        )
        return {(org, str(reference)) for org, reference in await cursor.fetchall()}

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[DataSource]:
        cursor = await self._connection().execute(
            _SELECT + " WHERE organization_id = %s AND (%s::uuid IS NULL OR id > %s)"
            " ORDER BY id LIMIT %s",
            (organization_id, page.after, page.after, page.limit + 1),
        )
        rows = [_data_source(row) for row in await cursor.fetchall()]
        return Page.from_rows(rows, page, lambda data_source: data_source.id)

    async def record_health(self, data_source_id: UUID, health: DataSourceHealth) -> None:
        await self._connection().execute(
            "UPDATE data_sources SET circuit = %s, circuit_open_until = %s, last_check_at = %s,"
            " last_error = %s WHERE id = %s",
            (
                health.circuit,
                health.open_until,
                health.last_check_at,
                health.last_error,
                data_source_id,
            ),
        )
