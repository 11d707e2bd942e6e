"""One contract for every ``UnitOfWork`` adapter: all of a unit's changes are kept, or none."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from tests.conftest import pool_on
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.application.ports import UnitOfWork


class UnitOfWorkContract(ABC):
    """What every unit of work promises; subclasses say how to write and read a probe row."""

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A fresh unit of work on the store under test."""

    @abstractmethod
    async def write(self, uow: Any, key: str, value: str) -> None:
        """Write a probe row inside ``uow``, the way a repository of this adapter would."""

    @abstractmethod
    async def read(self, key: str) -> str | None:
        """Read a probe row through a new reading unit of work: what others see."""

    async def test_committed_changes_are_kept(self) -> None:
        """A change followed by commit is visible to later units of work."""
        async with self.new_uow() as uow:
            await self.write(uow, "a", "1")
            await uow.commit()
        assert await self.read("a") == "1"

    async def test_changes_without_commit_are_discarded(self) -> None:
        """Leaving the block without commit keeps nothing."""
        async with self.new_uow() as uow:
            await self.write(uow, "a", "1")
        assert await self.read("a") is None

    async def test_an_error_discards_the_changes_and_propagates(self) -> None:
        """An exception inside the block rolls back and reaches the caller unchanged."""
        with pytest.raises(LookupError, match="boom"):
            async with self.new_uow() as uow:
                await self.write(uow, "a", "1")
                raise LookupError("boom")
        assert await self.read("a") is None

    async def test_rollback_discards_only_what_came_after_the_last_commit(self) -> None:
        """Commit, change, roll back: the committed part stays, the rest goes."""
        async with self.new_uow() as uow:
            await self.write(uow, "kept", "1")
            await uow.commit()
            await self.write(uow, "dropped", "2")
            await uow.rollback()
            await uow.commit()
        assert await self.read("kept") == "1"
        assert await self.read("dropped") is None

    async def test_a_unit_of_work_can_be_used_again_after_it_ends(self) -> None:
        """The same object opens a new transaction each time it is entered."""
        uow = self.new_uow()
        async with uow:
            await self.write(uow, "a", "1")
            await uow.commit()
        async with uow:
            await self.write(uow, "b", "2")
            await uow.commit()
        assert (await self.read("a"), await self.read("b")) == ("1", "2")

    async def test_commit_outside_the_block_is_refused(self) -> None:
        """Committing a unit of work that is not active is a programming error, not a no-op."""
        with pytest.raises(RuntimeError, match="not active"):
            await self.new_uow().commit()

    async def test_a_reading_unit_of_work_sees_what_was_committed_and_commits_nothing(
        self,
    ) -> None:
        """A reading unit of work reads committed data; its commit is a programming error;
        and the next ordinary unit of work is transactional again (its uncommitted change is
        discarded), whatever reading left behind."""
        async with self.new_uow() as uow:
            await self.write(uow, "a", "1")
            await uow.commit()
        async with self.new_uow().reading() as reader:
            with pytest.raises(RuntimeError, match="commits nothing"):
                await reader.commit()
        assert await self.read("a") == "1"
        for _ in range(3):  # on a pool, likely the connection the reader had
            async with self.new_uow() as uow:
                await self.write(uow, "b", "2")
        assert await self.read("b") is None

    async def test_a_unit_of_one_change_keeps_it_and_leaves_the_next_transactional(
        self,
    ) -> None:
        """One change and its commit are kept; an error before the change leaves nothing; the
        next ordinary unit of work is transactional again, whatever one change left behind."""
        async with self.new_uow().one_change() as uow:
            await self.write(uow, "a", "1")
            await uow.commit()
        with pytest.raises(LookupError):
            async with self.new_uow().one_change() as uow:
                raise LookupError("refused before its change")
        assert await self.read("a") == "1"
        for _ in range(3):  # on a pool, likely the connection the unit of one change had
            async with self.new_uow() as uow:
                await self.write(uow, "b", "2")
        assert await self.read("b") is None

    async def test_a_unit_of_one_change_refuses_to_roll_back_or_write_secrets(self) -> None:
        """What a unit that may run without a transaction cannot do is refused on every store,
        so a use case tested on memory fails there as it would on PostgreSQL."""
        async with self.new_uow().one_change() as uow:
            with pytest.raises(RuntimeError, match="keeps its change"):
                await uow.rollback()
            with pytest.raises(RuntimeError, match="no secrets"):
                _ = uow.secrets


class TestInMemoryUnitOfWork(UnitOfWorkContract):
    """The contract, on the in-memory store."""

    @pytest.fixture(autouse=True)
    def _store(self) -> None:
        self.store = InMemoryStore()

    def new_uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def write(self, uow: InMemoryUnitOfWork, key: str, value: str) -> None:
        uow.tables.setdefault("probe", {})[key] = value

    async def read(self, key: str) -> str | None:
        async with self.new_uow().reading() as uow:
            value: str | None = uow.tables.get("probe", {}).get(key)
            return value


@pytest.mark.postgres
class TestPostgresUnitOfWork(UnitOfWorkContract):
    """The contract, on a real PostgreSQL database."""

    @pytest.fixture(autouse=True)
    async def _pool(self, database_url: str) -> AsyncIterator[None]:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("CREATE TABLE probe (key text PRIMARY KEY, value text NOT NULL)")
        async with pool_on(database_url) as self.pool:
            yield

    def new_uow(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self.pool)

    async def write(self, uow: PostgresUnitOfWork, key: str, value: str) -> None:
        await uow.connection.execute(
            "INSERT INTO probe (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def read(self, key: str) -> str | None:
        async with self.new_uow().reading() as uow:
            cursor = await uow.connection.execute("SELECT value FROM probe WHERE key = %s", (key,))
            row = await cursor.fetchone()
            return None if row is None else str(row[0])

    async def test_one_change_is_kept_when_its_statement_ends(self) -> None:
        """Without a transaction, the statement commits itself: a later error does not undo
        it (why a use case commits straight after its one change)."""
        with pytest.raises(LookupError):
            async with self.new_uow().one_change() as uow:
                await self.write(uow, "a", "1")
                raise LookupError("after the change")
        assert await self.read("a") == "1"
