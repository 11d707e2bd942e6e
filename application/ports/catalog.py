"""Repositories of data sources and pipelines (the control plane's catalog)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from thedata.domain.data_sources import DataSource, DataSourceHealth
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.pipelines import Pipeline


class DataSourceRepository(Protocol):
    """Data sources of organizations; names unique per organization (``DataSourceNameTaken``)."""

    async def add(self, data_source: DataSource) -> None:
        """Store a new data source."""
        ...

    async def get(
        self, organization_id: UUID, data_source_id: UUID, *, lock: bool = False
    ) -> DataSource | None:
        """The organization's data source, if it exists; with ``lock``, no concurrent unit
        of work changes or deletes it until this one ends."""
        ...

    async def get_many(
        self, organization_id: UUID, data_source_ids: Collection[UUID]
    ) -> dict[UUID, DataSource]:
        """Those of the organization's data sources among ``data_source_ids`` that exist, by
        id (in one lookup)."""
        ...

    async def update(self, data_source: DataSource) -> None:
        """Store a changed name, config, secret fields and ``updated_at``."""
        ...

    async def delete(self, organization_id: UUID, data_source_id: UUID) -> None:
        """Delete the data source; ``DataSourceInUse`` if a pipeline still uses it."""
        ...

    async def secret_references(self) -> set[tuple[UUID, str]]:
        """Every (organization, secret reference) a data source points at."""
        ...

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[DataSource]:
        """The organization's data sources in id order."""
        ...

    async def record_health(self, data_source_id: UUID, health: DataSourceHealth) -> None:
        """Store what the last connector call said (circuit state, last check, last error)."""
        ...


class PipelineRepository(Protocol):
    """Pipelines of organizations; names unique per organization (``PipelineNameTaken``)."""

    async def add(self, pipeline: Pipeline) -> None:
        """Store a new pipeline; ``ReferenceConflict`` if a data source it names is gone
        (deleted by a concurrent unit of work after the caller checked it)."""
        ...

    async def get(
        self, organization_id: UUID, pipeline_id: UUID, *, lock: bool = False
    ) -> Pipeline | None:
        """The organization's pipeline, if it exists; with ``lock``, held against
        concurrent changes until the unit of work ends."""
        ...

    async def update(self, pipeline: Pipeline) -> None:
        """Store the changed definition and ``updated_at`` (``state`` is the runs' to change);
        ``ReferenceConflict`` if a data source it names is gone."""
        ...

    async def delete(self, organization_id: UUID, pipeline_id: UUID) -> None:
        """Delete the pipeline with its state."""
        ...

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Pipeline]:
        """The organization's pipelines in id order."""
        ...

    async def using(self, data_source_id: UUID) -> int:
        """How many pipelines read from or write to the data source."""
        ...

    async def next_epoch(self, organization_id: UUID, pipeline_id: UUID) -> int | None:
        """Take the pipeline's next attempt epoch (larger than every one taken before, even
        by a store since restored from a backup, where the store can know: PostgreSQL's are
        its clock's milliseconds at least); ``None`` if there is no such pipeline."""
        ...

    async def raise_epoch(self, organization_id: UUID, pipeline_id: UUID, past: int) -> None:
        """Make the pipeline's next epoch larger than ``past`` (an epoch a destination holds
        that this store did not hand out, or no longer knows it did); never lowers it."""
        ...

    async def record_state(
        self, organization_id: UUID, pipeline_id: UUID, stream: str, state: Mapping[str, Any]
    ) -> None:
        """Mirror one stream's state (its destination holds the truth) for the API, unless the
        stored one comes from a later attempt (a larger ``epoch``)."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[Pipeline]:
        """Up to ``limit`` enabled pipelines with a schedule that may be due at ``now`` (their
        next due time has passed, or is not known yet: never scheduled, or rescheduled since),
        the longest due first, locked for this unit of work. Pipelines another unit of work
        holds are skipped, never waited for (another scheduler has them, or someone edits
        them), and a pipeline another scheduler dealt with meanwhile is not due any more."""
        ...

    async def record_scheduled(
        self,
        organization_id: UUID,
        pipeline_id: UUID,
        last_scheduled_for: datetime | None,
        next_due: datetime | None,
    ) -> None:
        """Store the latest due time the scheduler dealt with (it never moves back) and the
        next one (``None``: the schedule never fires again), until the schedule changes."""
        ...
