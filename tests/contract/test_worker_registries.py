"""One contract for the worker registry, on memory and on PostgreSQL: a worker's beats, its
start and last-seen times on the store's clock, its clean exit, and silent ones forgotten."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.conftest import pool_on
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.application.ports import UnitOfWork


class WorkerRegistryContract(ABC):
    """What both adapters promise about workers' presence."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A unit of work on an empty store."""

    async def beat(self, worker_id: str, runs_held: int = 0, concurrency: int = 4) -> None:
        async with self.new_uow() as uow:
            await uow.workers.beat(worker_id, "host-a", 4242, concurrency, runs_held)
            await uow.commit()

    async def test_a_worker_is_seen_from_its_first_beat_to_its_exit(self) -> None:
        """The first beat is the start; later beats move only the last-seen time and the
        figures; a clean exit removes the worker. Times are the store's."""
        async with self.new_uow() as uow:
            before = await uow.runs.now()
        await self.beat("w1", runs_held=0)
        await asyncio.sleep(0.01)
        await self.beat("w1", runs_held=3, concurrency=8)
        async with self.new_uow() as uow:
            (seen,) = await uow.workers.all()
            after = await uow.runs.now()
        assert (seen.id, seen.host, seen.pid, seen.runs_held, seen.concurrency) == (
            "w1", "host-a", 4242, 3, 8,
        )  # fmt: skip
        assert before <= seen.started_at < seen.last_seen_at <= after
        async with self.new_uow() as uow:
            await uow.workers.gone("w1")
            await uow.commit()
        async with self.new_uow() as uow:
            assert await uow.workers.all() == []

    async def test_the_most_recently_seen_comes_first(self) -> None:
        for name in ("w1", "w2", "w3"):
            await self.beat(name)
            await asyncio.sleep(0.01)
        await self.beat("w1")
        async with self.new_uow() as uow:
            assert [w.id for w in await uow.workers.all()] == ["w1", "w3", "w2"]

    async def test_only_workers_silent_since_before_the_date_are_forgotten(self) -> None:
        await self.beat("killed")
        await asyncio.sleep(0.01)
        async with self.new_uow() as uow:
            cutoff = await uow.runs.now()
        await asyncio.sleep(0.01)
        await self.beat("alive")
        async with self.new_uow() as uow:
            assert await uow.workers.forget_silent(cutoff) == 1
            await uow.commit()
        async with self.new_uow() as uow:
            assert [w.id for w in await uow.workers.all()] == ["alive"]
            assert await uow.workers.forget_silent(cutoff - timedelta(days=1)) == 0

    async def test_a_beat_not_committed_leaves_nothing(self) -> None:
        async with self.new_uow() as uow:
            await uow.workers.beat("w1", "h", 1, 1, 0)
        async with self.new_uow() as uow:
            assert await uow.workers.all() == []


class TestInMemoryWorkerRegistry(WorkerRegistryContract):
    @pytest.fixture(autouse=True)
    def _store(self) -> None:
        self.store = InMemoryStore()

    def new_uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.store)


@pytest.mark.postgres
class TestPostgresWorkerRegistry(WorkerRegistryContract):
    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str) -> AsyncIterator[None]:
        async with pool_on(migrated_database_url) as self.pool:
            async with self.new_uow() as uow:
                await uow.connection.execute("DELETE FROM workers")  # type: ignore[attr-defined]
                await uow.commit()
            yield

    def new_uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.pool)
