"""Running a pipeline as a library call, on memory adapters: every stream, fresh epochs, state."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.catalog import Catalog
from thedata.adapters.memory.streams import (
    InMemoryDatabase,
    InMemoryStreamReader,
    InMemoryStreamWriter,
    InMemoryTable,
)
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.ports import Column, Moved, Shape, Superseded, WriteMode
from thedata.application.use_cases import CreatePipeline, NewPipeline, RunPipeline
from thedata.domain.access import Role
from thedata.domain.errors import PermissionDenied
from thedata.domain.pipelines import Pipeline, Stream, StreamMode
from thedata.domain.principal import Principal

SHAPE = Shape((Column("id", "bigint", False), Column("updated", "bigint")), ("id",))
STREAMS = (
    Stream("orders", "orders_copy", StreamMode.INCREMENTAL, "updated", ("id",)),
    Stream("customers", "customers_copy", StreamMode.FULL_REFRESH),
)


async def a_pipeline(catalog: Catalog) -> tuple[Principal, UUID, Pipeline]:
    owner = await catalog.identity.user("ada@example.com")
    org, owner = await catalog.identity.organization(owner)
    source = await catalog.warehouse(owner, org, "source")
    destination = await catalog.warehouse(owner, org, "destination")
    create = CreatePipeline(
        catalog.uow, catalog.identity.clock, UuidV7IdFactory(), catalog.identity.policy
    )
    pipeline = await create(owner, org, NewPipeline("nightly", source.id, destination.id, STREAMS))
    return owner, org, pipeline


def wired(catalog: Catalog) -> tuple[InMemoryDatabase, InMemoryDatabase, RunPipeline]:
    source = InMemoryDatabase(
        {
            "orders": InMemoryTable(SHAPE, [(n, n) for n in range(5)]),
            "customers": InMemoryTable(SHAPE, [(1, 1), (2, 2)]),
        }
    )
    destination = InMemoryDatabase()
    catalog.connectors.stream_reader = InMemoryStreamReader(source)
    catalog.connectors.stream_writer = InMemoryStreamWriter(destination)
    return source, destination, RunPipeline(catalog.uow, catalog.connectors, catalog.secrets, 2)


async def test_a_run_moves_every_stream_and_mirrors_the_positions() -> None:
    """Both streams arrive; the pipeline's state shows each stream's cursor and the epoch."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    source, destination, run = wired(catalog)
    seen: list[tuple[str, Moved]] = []
    outcome = await run(owner, org, pipeline.id, progress=lambda s, w: seen.append((s, w)))
    assert destination.tables["orders_copy"].rows == source.tables["orders"].rows
    assert destination.tables["customers_copy"].rows == source.tables["customers"].rows
    assert outcome.streams["orders"].mode is WriteMode.UPSERT
    assert outcome.streams["orders"].rows == 5
    assert seen[-1][0] == "customers"
    async with catalog.uow() as uow:
        stored = await uow.pipelines.get(org, pipeline.id)
    assert stored is not None
    assert stored.state["orders"] == {"epoch": outcome.epoch, "cursor": "4", "key": ["4"]}


async def test_each_run_takes_a_larger_epoch_and_fences_the_ones_before() -> None:
    """A second run's epoch is larger; the first attempt's epoch is refused afterwards."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    _, destination, run = wired(catalog)
    first = await run(owner, org, pipeline.id)
    second = await run(owner, org, pipeline.id)
    assert second.epoch > first.epoch
    writer = InMemoryStreamWriter(destination)
    with pytest.raises(Superseded):
        async with writer.open(
            str(pipeline.id), "orders", "orders_copy", SHAPE, WriteMode.UPSERT, first.epoch
        ):
            pass


async def test_viewers_cannot_run_a_pipeline() -> None:
    """Running writes data: members and up."""
    catalog = Catalog()
    owner, org, pipeline = await a_pipeline(catalog)
    viewer = await catalog.identity.member(org, owner, "vic@example.com", Role.VIEWER)
    _, _, run = wired(catalog)
    with pytest.raises(PermissionDenied):
        await run(viewer, org, pipeline.id)
