"""Pipelines in memory, keyed by (organization id, pipeline id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables, page_of
from thedata.application.errors import ReferenceConflict
from thedata.domain.pagination import Page, PageRequest
from thedata.domain.pipelines import Pipeline, PipelineNameTaken

_NEVER = datetime.max.replace(tzinfo=UTC)
"""The next due time of a schedule that never fires again (the database's 'infinity')."""


class InMemoryPipelineRepository:
    """Pipelines; names unique per organization.

    Each pipeline's next due time, as the scheduler last computed it, is kept beside it
    (the database's ``next_due_at`` column; the domain object does not carry it).
    """

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[tuple[UUID, UUID], Pipeline]:
        return self._tables("pipelines")

    def _check_name(self, pipeline: Pipeline) -> None:
        for (org, other_id), other in self._rows().items():
            same = org == pipeline.organization_id and other.name == pipeline.name
            if same and other_id != pipeline.id:
                raise PipelineNameTaken(f"a pipeline is named {pipeline.name!r}")

    def _check_references(self, pipeline: Pipeline) -> None:
        # as the database's foreign keys do: any data source id, of any organization
        known = {data_source_id for _, data_source_id in self._tables("data_sources")}
        if not {pipeline.source_id, pipeline.destination_id} <= known:
            raise ReferenceConflict("a data source the pipeline names no longer exists")

    async def add(self, pipeline: Pipeline) -> None:
        self._check_references(pipeline)
        self._check_name(pipeline)
        self._rows()[(pipeline.organization_id, pipeline.id)] = evolve(pipeline)

    async def get(
        self, organization_id: UUID, pipeline_id: UUID, *, lock: bool = False
    ) -> Pipeline | None:
        pipeline = self._rows().get((organization_id, pipeline_id))
        return evolve(pipeline) if pipeline else None

    async def update(self, pipeline: Pipeline) -> None:
        self._check_references(pipeline)
        self._check_name(pipeline)
        key = (pipeline.organization_id, pipeline.id)
        if key in self._rows():
            stored = self._rows()[key]
            if stored.schedule != pipeline.schedule:  # a new schedule: computed again
                self._next_due().pop(key, None)
            self._rows()[key] = evolve(
                pipeline, state=stored.state, last_scheduled_for=stored.last_scheduled_for
            )

    async def delete(self, organization_id: UUID, pipeline_id: UUID) -> None:
        self._rows().pop((organization_id, pipeline_id), None)
        self._next_due().pop((organization_id, pipeline_id), None)

    async def list(self, organization_id: UUID, page: PageRequest) -> Page[Pipeline]:
        rows = [evolve(p) for (org, _), p in self._rows().items() if org == organization_id]
        return page_of(rows, page, lambda pipeline: pipeline.id)

    async def using(self, data_source_id: UUID) -> int:
        return sum(data_source_id in (p.source_id, p.destination_id) for p in self._rows().values())

    async def next_epoch(self, organization_id: UUID, pipeline_id: UUID) -> int | None:
        if (organization_id, pipeline_id) not in self._rows():
            return None
        epochs: dict[tuple[UUID, UUID], int] = self._tables("pipeline_epochs")
        key = (organization_id, pipeline_id)
        epochs[key] = epochs.get(key, 0) + 1
        return epochs[key]

    async def raise_epoch(self, organization_id: UUID, pipeline_id: UUID, past: int) -> None:
        key = (organization_id, pipeline_id)
        if key in self._rows():
            epochs: dict[tuple[UUID, UUID], int] = self._tables("pipeline_epochs")
            epochs[key] = max(epochs.get(key, 0), past)

    async def record_state(
        self, organization_id: UUID, pipeline_id: UUID, stream: str, state: Mapping[str, Any]
    ) -> None:
        key = (organization_id, pipeline_id)
        if key in self._rows():
            pipeline = self._rows()[key]
            stored = pipeline.state.get(stream) or {}
            if int(stored.get("epoch") or 0) > int(state.get("epoch") or 0):
                return  # an older attempt (a zombie) never puts back its older position
            self._rows()[key] = evolve(pipeline, state={**pipeline.state, stream: dict(state)})

    def _next_due(self) -> dict[tuple[UUID, UUID], datetime]:
        return self._tables("pipeline_next_due")

    async def due(self, now: datetime, limit: int) -> Sequence[Pipeline]:
        # nothing to skip: a memory unit of work holds the whole store until it ends
        next_due = self._next_due()
        due = [
            (next_due.get(key), p)
            for key, p in self._rows().items()
            if p.enabled and p.schedule is not None and next_due.get(key, now) <= now
        ]
        # unknown next due times first, as the database's NULLS FIRST
        due.sort(key=lambda entry: (entry[0] is not None, entry[0] or now, entry[1].id))
        return [evolve(p) for _, p in due[:limit]]

    async def record_scheduled(
        self,
        organization_id: UUID,
        pipeline_id: UUID,
        last_scheduled_for: datetime | None,
        next_due: datetime | None,
    ) -> None:
        key = (organization_id, pipeline_id)
        pipeline = self._rows().get(key)
        if pipeline is None:
            return
        last = pipeline.last_scheduled_for
        if last_scheduled_for is not None and (last is None or last_scheduled_for > last):
            self._rows()[key] = evolve(pipeline, last_scheduled_for=last_scheduled_for)
        self._next_due()[key] = _NEVER if next_due is None else next_due
