"""The pipeline use cases on memory adapters: references, tenancy, locking and deletes."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.catalog import Catalog
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.use_cases import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    NewPipeline,
    PipelineChanges,
    UpdatePipeline,
)
from thedata.domain.access import Role
from thedata.domain.errors import InvalidInput, PermissionDenied
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Pipeline, PipelineNotFound, Stream, StreamMode
from thedata.domain.principal import Principal

STREAMS = (Stream("orders", "orders_copy", StreamMode.FULL_REFRESH),)


class Pipelines:
    """The pipeline use cases beside the data-source ones of a ``Catalog``."""

    def __init__(self, catalog: Catalog) -> None:
        clock, policy = catalog.identity.clock, catalog.identity.policy
        self.create = CreatePipeline(catalog.uow, clock, UuidV7IdFactory(), policy)
        self.get = GetPipeline(catalog.uow)
        self.list = ListPipelines(catalog.uow)
        self.update = UpdatePipeline(catalog.uow, clock)
        self.delete = DeletePipeline(catalog.uow)


async def a_pipeline(catalog: Catalog, owner: Principal, org: UUID) -> Pipeline:
    source = await catalog.warehouse(owner, org, "source")
    destination = await catalog.warehouse(owner, org, "destination")
    created = await Pipelines(catalog).create(
        owner, org, NewPipeline("nightly", source.id, destination.id, STREAMS)
    )
    assert isinstance(created, Pipeline)
    return created


async def org_of(catalog: Catalog, email: str = "ada@example.com") -> tuple[Principal, UUID]:
    owner = await catalog.identity.user(email)
    org, owner = await catalog.identity.organization(owner)
    return owner, org


async def test_a_pipeline_is_created_read_listed_changed_and_deleted() -> None:
    """The whole life of a pipeline, read back through the use cases."""
    catalog = Catalog()
    pipelines = Pipelines(catalog)
    owner, org = await org_of(catalog)
    pipeline = await a_pipeline(catalog, owner, org)
    assert await pipelines.get(owner, org, pipeline.id) == pipeline
    assert [p.id for p in (await pipelines.list(owner, org, PageRequest())).items] == [pipeline.id]
    changed = await pipelines.update(owner, org, pipeline.id, PipelineChanges(enabled=False))
    assert changed.enabled is False
    await pipelines.delete(owner, org, pipeline.id)
    with pytest.raises(PipelineNotFound):
        await pipelines.get(owner, org, pipeline.id)


async def test_another_organizations_data_source_cannot_be_named() -> None:
    """A data source of organization A is unknown to a pipeline of organization B."""
    catalog = Catalog()
    alice, org_a = await org_of(catalog, "alice@example.com")
    bob, org_b = await org_of(catalog, "bob@example.com")
    theirs = await catalog.warehouse(alice, org_a)
    mine = await catalog.warehouse(bob, org_b)
    with pytest.raises(InvalidInput) as refused:
        await Pipelines(catalog).create(
            bob, org_b, NewPipeline("steal", theirs.id, mine.id, STREAMS)
        )
    assert [e.field for e in refused.value.errors] == ["/source_id"]


async def test_a_viewer_reads_but_cannot_change() -> None:
    """Viewers get and list; creating, changing and deleting are PermissionDenied."""
    catalog = Catalog()
    pipelines = Pipelines(catalog)
    owner, org = await org_of(catalog)
    viewer = await catalog.identity.member(org, owner, "vic@example.com", Role.VIEWER)
    pipeline = await a_pipeline(catalog, owner, org)
    assert (await pipelines.get(viewer, org, pipeline.id)).id == pipeline.id
    with pytest.raises(PermissionDenied):
        await pipelines.update(viewer, org, pipeline.id, PipelineChanges(enabled=False))
    with pytest.raises(PermissionDenied):
        await pipelines.delete(viewer, org, pipeline.id)


async def test_deleting_the_pipeline_frees_its_data_sources() -> None:
    """Once the pipeline is gone, its data sources can be deleted, with their secrets."""
    catalog = Catalog()
    owner, org = await org_of(catalog)
    pipeline = await a_pipeline(catalog, owner, org)
    await Pipelines(catalog).delete(owner, org, pipeline.id)
    await catalog.delete(owner, org, pipeline.source_id)
    await catalog.delete(owner, org, pipeline.destination_id)
    assert catalog.stored_values() == []
