"""One contract for the data source and pipeline repositories, on memory and on PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from uuid import UUID

import pytest
from attrs import evolve

from tests.contract.stores import OnMemory, OnPostgres
from tests.contract.test_identity_repositories import an_organization, ids
from tests.identity import T0
from thedata.application.errors import ReferenceConflict
from thedata.application.ports import UnitOfWork
from thedata.domain.data_sources import (
    DataSource,
    DataSourceHealth,
    DataSourceInUse,
    DataSourceKind,
    DataSourceNameTaken,
)
from thedata.domain.organizations import Organization
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Pipeline, PipelineNameTaken, Stream, StreamMode
from thedata.domain.schedules import Cron, EverySeconds


def a_data_source(org: UUID, name: str = "warehouse") -> DataSource:
    config = {"host": "db", "port": 5432, "database": "d", "user": "u"}
    data_source_id = ids.new_id()
    secrets = {"password": f"data-source/{data_source_id}/password/{ids.new_id()}"}
    return DataSource(data_source_id, org, name, DataSourceKind.POSTGRES, config, secrets, T0, T0)


def a_pipeline(org: UUID, source: UUID, destination: UUID, name: str = "nightly") -> Pipeline:
    streams = (
        Stream("orders", "orders_copy", StreamMode.INCREMENTAL, "updated_at", ("id",)),
        Stream("customers", "customers", StreamMode.FULL_REFRESH),
    )
    return Pipeline(
        ids.new_id(), org, name, source, destination, streams, Cron("0 3 * * *"), True, {}, T0, T0
    )


class CatalogContract(ABC):
    """What both adapters promise about data sources and pipelines."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A unit of work on a store that has ``self.org``."""

    org: Organization

    async def given(self, *items: DataSource | Pipeline) -> None:
        async with self.new_uow() as uow:
            for item in items:
                if isinstance(item, DataSource):
                    await uow.data_sources.add(item)
                else:
                    await uow.pipelines.add(item)
            await uow.commit()

    async def test_many_data_sources_come_in_one_lookup_of_the_organization_only(self) -> None:
        """get_many: the organization's data sources among the ids, by id; a missing id and
        another organization's data source are simply absent."""
        other = an_organization(slug="other-org")
        async with self.new_uow() as uow:
            await uow.organizations.add(other)
            await uow.commit()
        mine, also_mine, theirs = (
            a_data_source(self.org.id, "a"), a_data_source(self.org.id, "b"),
            a_data_source(other.id, "c"),
        )  # fmt: skip
        await self.given(mine, also_mine, theirs)
        missing = ids.new_id()
        async with self.new_uow() as uow:
            found = await uow.data_sources.get_many(
                self.org.id, [mine.id, also_mine.id, theirs.id, missing, mine.id]
            )
            assert found == {mine.id: mine, also_mine.id: also_mine}
            assert await uow.data_sources.get_many(self.org.id, []) == {}

    async def test_a_data_source_round_trips_with_its_health(self) -> None:
        """Stored, read back whole; health changes only through record_health."""
        source = a_data_source(self.org.id)
        await self.given(source)
        health = DataSourceHealth("open", T0 + timedelta(seconds=30), T0, "refused")
        async with self.new_uow() as uow:
            assert await uow.data_sources.get(self.org.id, source.id) == source
            await uow.data_sources.record_health(source.id, health)
            await uow.data_sources.update(evolve(source, name="renamed", health=DataSourceHealth()))
            await uow.commit()
        async with self.new_uow() as uow:
            stored = await uow.data_sources.get(self.org.id, source.id)
        assert stored is not None
        assert (stored.name, stored.health) == ("renamed", health)

    async def test_data_source_names_are_unique_per_organization(self) -> None:
        """A second 'warehouse' in the organization is DataSourceNameTaken."""
        await self.given(a_data_source(self.org.id))
        async with self.new_uow() as uow:
            with pytest.raises(DataSourceNameTaken):
                await uow.data_sources.add(a_data_source(self.org.id))

    async def test_data_sources_come_in_pages(self) -> None:
        """Five sources in pages of two, in creation order."""
        sources = [a_data_source(self.org.id, f"s{n}") for n in range(5)]
        await self.given(*sources)
        seen: list[UUID] = []
        after = None
        async with self.new_uow() as uow:
            for _ in range(3):
                page = await uow.data_sources.list(self.org.id, PageRequest(2, after))
                seen += [s.id for s in page.items]
                after = page.next_after
        assert seen == [s.id for s in sources]
        assert after is None

    async def test_a_pipeline_round_trips_and_counts_as_using_its_sources(self) -> None:
        """Streams and schedule come back as stored; both endpoints count it as a user."""
        source, destination = a_data_source(self.org.id, "a"), a_data_source(self.org.id, "b")
        pipeline = a_pipeline(self.org.id, source.id, destination.id)
        await self.given(source, destination, pipeline)
        async with self.new_uow() as uow:
            assert await uow.pipelines.get(self.org.id, pipeline.id) == pipeline
            assert await uow.pipelines.using(source.id) == 1
            assert await uow.pipelines.using(destination.id) == 1
            with pytest.raises(PipelineNameTaken):
                await uow.pipelines.add(a_pipeline(self.org.id, source.id, destination.id))

    async def test_updating_a_pipeline_keeps_its_state(self) -> None:
        """The definition changes; the runs' state does not."""
        source = a_data_source(self.org.id)
        pipeline = evolve(a_pipeline(self.org.id, source.id, source.id), state={"orders": 42})
        await self.given(source, pipeline)
        changed = evolve(pipeline, schedule=EverySeconds(600), enabled=False, state={})
        async with self.new_uow() as uow:
            await uow.pipelines.update(changed)
            await uow.commit()
        async with self.new_uow() as uow:
            stored = await uow.pipelines.get(self.org.id, pipeline.id)
        assert stored is not None
        assert (stored.schedule, stored.enabled, dict(stored.state)) == (
            EverySeconds(600),
            False,
            {"orders": 42},
        )

    async def test_deleting_the_organization_deletes_its_catalog(self) -> None:
        """Data sources and pipelines go with their organization."""
        source = a_data_source(self.org.id)
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(source, pipeline)
        async with self.new_uow() as uow:
            await uow.organizations.delete(self.org.id)
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.data_sources.get(self.org.id, source.id) is None
            assert await uow.pipelines.get(self.org.id, pipeline.id) is None

    async def test_a_data_source_a_pipeline_uses_cannot_be_deleted(self) -> None:
        """Deleting a pipeline's source is DataSourceInUse, and nothing is deleted."""
        source, destination = a_data_source(self.org.id, "a"), a_data_source(self.org.id, "b")
        await self.given(source, destination, a_pipeline(self.org.id, source.id, destination.id))
        async with self.new_uow() as uow:
            with pytest.raises(DataSourceInUse):
                await uow.data_sources.delete(self.org.id, destination.id)
        async with self.new_uow() as uow:
            assert await uow.data_sources.get(self.org.id, destination.id) is not None

    async def test_a_pipeline_naming_a_missing_data_source_is_refused(self) -> None:
        """On add and on update: ReferenceConflict, as when a concurrent delete won."""
        source = a_data_source(self.org.id)
        await self.given(source)
        ghost = ids.new_id()
        async with self.new_uow() as uow:
            with pytest.raises(ReferenceConflict):
                await uow.pipelines.add(a_pipeline(self.org.id, source.id, ghost))
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(pipeline)
        async with self.new_uow() as uow:
            with pytest.raises(ReferenceConflict):
                await uow.pipelines.update(evolve(pipeline, destination_id=ghost))

    async def test_every_referenced_secret_is_listed(self) -> None:
        """secret_references names each (organization, reference) a data source points at."""
        first, second = a_data_source(self.org.id, "a"), a_data_source(self.org.id, "b")
        await self.given(first, evolve(second, secrets={}))
        async with self.new_uow() as uow:
            assert await uow.data_sources.secret_references() == {
                (self.org.id, first.secrets["password"])
            }

    async def test_a_locked_read_returns_the_row(self) -> None:
        """get(lock=True) reads like get; the lock itself is shown by the race tests."""
        source = a_data_source(self.org.id)
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(source, pipeline)
        async with self.new_uow() as uow:
            assert await uow.data_sources.get(self.org.id, source.id, lock=True) == source
            assert await uow.pipelines.get(self.org.id, pipeline.id, lock=True) == pipeline

    async def test_epochs_only_grow_and_state_is_mirrored_per_stream(self) -> None:
        """next_epoch hands out ever larger numbers; record_state changes one stream's entry
        only."""
        source = a_data_source(self.org.id)
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(source, pipeline)
        async with self.new_uow() as uow:
            epochs = [await uow.pipelines.next_epoch(self.org.id, pipeline.id) for _ in range(3)]
            assert await uow.pipelines.next_epoch(self.org.id, ids.new_id()) is None
            await uow.pipelines.record_state(self.org.id, pipeline.id, "orders", {"cursor": "7"})
            await uow.pipelines.record_state(self.org.id, pipeline.id, "customers", {"x": 1})
            await uow.commit()
        numbers = [epoch for epoch in epochs if epoch is not None]
        assert numbers == sorted(set(numbers))
        assert len(numbers) == 3
        assert numbers[0] > 0
        async with self.new_uow() as uow:
            stored = await uow.pipelines.get(self.org.id, pipeline.id)
        assert stored is not None
        assert dict(stored.state) == {"orders": {"cursor": "7"}, "customers": {"x": 1}}

    async def test_raising_the_epoch_puts_the_next_past_it_and_never_lowers_it(self) -> None:
        """An epoch a destination holds that the store did not hand out: the next is
        above it; raising to a smaller one changes nothing."""
        source = a_data_source(self.org.id)
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(source, pipeline)
        async with self.new_uow() as uow:
            first = await uow.pipelines.next_epoch(self.org.id, pipeline.id)
            assert first is not None
            await uow.pipelines.raise_epoch(self.org.id, pipeline.id, first + 10**9)
            second = await uow.pipelines.next_epoch(self.org.id, pipeline.id)
            await uow.pipelines.raise_epoch(self.org.id, pipeline.id, 1)
            third = await uow.pipelines.next_epoch(self.org.id, pipeline.id)
            await uow.commit()
        assert second is not None
        assert third is not None
        assert second > first + 10**9
        assert third > second


class TestInMemoryCatalog(OnMemory, CatalogContract):
    """The contract on the in-memory store."""


@pytest.mark.postgres
class TestPostgresCatalog(OnPostgres, CatalogContract):
    """The contract on a real, migrated PostgreSQL database."""

    async def test_epochs_after_a_restore_are_above_every_one_taken_before(self) -> None:
        """A control database restored from a backup holds an older epoch counter; the
        epochs it hands out next are still above every one taken before the restore (the
        destinations hold those, and refuse smaller ones as a superseded attempt's), once the
        clock has passed them: epochs are the database clock's milliseconds at least, and a
        pipeline takes far fewer than one per millisecond (one per attempt), so only a test
        taking three at once has to wait for the clock to pass them."""
        source = a_data_source(self.org.id)
        pipeline = a_pipeline(self.org.id, source.id, source.id)
        await self.given(source, pipeline)
        async with self.new_uow() as uow:
            before = [await uow.pipelines.next_epoch(self.org.id, pipeline.id) for _ in range(3)]
            await uow.commit()
        async with self.pool.connection() as connection:  # what a restore puts back
            await connection.execute("UPDATE pipelines SET epoch = 0 WHERE id = %s", (pipeline.id,))
            await connection.execute("SELECT pg_sleep(0.01)")  # the clock passes the three
        async with self.new_uow() as uow:
            after = await uow.pipelines.next_epoch(self.org.id, pipeline.id)
        assert after is not None
        assert all(epoch is not None and after > epoch for epoch in before)
