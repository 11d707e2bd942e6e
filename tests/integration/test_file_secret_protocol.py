"""The file secret store's protocol around the catalog's transaction, crashed between its steps.

A crash is simulated by an exception no code handles (a ``BaseException``)
after which the file accepts no more changes, as if the process had died: no
clean-up runs. Whatever the step, the catalog must point only at complete,
correct values, and the sweep must leave exactly the values it points at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from tests.conftest import pool_on
from tests.contract.test_identity_repositories import an_organization
from tests.identity import ManualClock
from tests.secrets import cipher
from thedata.adapters.memory import FakeConnectorFactory
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.adapters.secrets import EncryptedFileSecretStore
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.errors import DatabaseUnavailable
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.use_cases import (
    CreateDataSource,
    DataSourceChanges,
    DeleteDataSource,
    NewDataSource,
    SweepOrphanSecrets,
    UpdateDataSource,
)
from thedata.domain.access import Role
from thedata.domain.data_sources import DataSource, DataSourceKind
from thedata.domain.pagination import PageRequest
from thedata.domain.principal import Principal

pytestmark = pytest.mark.postgres
CONFIG = {"host": "db.example.com", "port": 5432, "database": "sales", "user": "reader"}


class Crash(BaseException):
    """The process died here."""


class MortalFileStore(EncryptedFileSecretStore):
    """A file store whose process dies at its ``dies_at``-th change (1-based), or on demand."""

    dies_at = 0
    changes = 0
    dead = False

    def _step(self) -> None:
        self.changes += 1
        if self.dead or self.changes == self.dies_at:
            self.dead = True
            raise Crash

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        self._step()
        await super().put(organization_id, reference, value)

    async def delete(self, organization_id: UUID, reference: str) -> bool:
        self._step()
        return await super().delete(organization_id, reference)


class Harness:
    """The data-source use cases on PostgreSQL with the mortal file store."""

    def __init__(self, pool: AsyncConnectionPool, store: MortalFileStore) -> None:
        self.pool, self.store = pool, store
        self.die_before_commit = False
        self.lose_commit_answer = False
        self.org = an_organization()
        self.principal = Principal.api_key(UUID(int=1), self.org.id, Role.OWNER)

    def uow(self) -> PostgresUnitOfWork:
        harness = self

        class MortalUnitOfWork(PostgresUnitOfWork):
            async def commit(self) -> None:
                if harness.die_before_commit:
                    harness.store.dead = True
                    raise Crash
                if harness.lose_commit_answer:
                    connection = self.connection
                    real_commit = connection.commit

                    async def commit_then_lose_the_answer() -> None:
                        await real_commit()
                        raise psycopg.OperationalError("server closed the connection unexpectedly")

                    connection.commit = commit_then_lose_the_answer  # type: ignore[method-assign]
                    try:
                        await super().commit()
                    finally:
                        connection.commit = real_commit  # type: ignore[method-assign]
                    return
                await super().commit()

        return MortalUnitOfWork(self.pool, secrets=self.store.joined)

    def create(self) -> CreateDataSource:
        return CreateDataSource(
            self.uow, ManualClock(), UuidV7IdFactory(), FakeConnectorFactory(), IdentityPolicy()
        )

    def update(self) -> UpdateDataSource:
        return UpdateDataSource(self.uow, ManualClock(), UuidV7IdFactory(), FakeConnectorFactory())

    async def catalog(self) -> list[DataSource]:
        async with PostgresUnitOfWork(self.pool) as uow:
            page = await uow.data_sources.list(self.org.id, PageRequest(50))
            return list(page.items)


@pytest.fixture
async def harness(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with pool_on(migrated_database_url) as pool:
        store = MortalFileStore(tmp_path / "secrets.json", cipher(1))
        harness = Harness(pool, store)
        async with PostgresUnitOfWork(pool) as uow:
            await uow.organizations.add(harness.org)
            await uow.commit()
        yield harness


async def assert_consistent(harness: Harness, expected: dict[str, bytes]) -> None:
    """Every data source's secret reads back as expected; after a sweep nothing else is left."""
    harness.store.dead, harness.store.dies_at = False, 0
    sources = await harness.catalog()
    seen = {
        s.name: await harness.store.get(s.organization_id, reference)
        for s in sources
        for reference in s.secrets.values()
    }
    assert seen == expected
    later = ManualClock(datetime.now(UTC) + timedelta(days=1))
    await SweepOrphanSecrets(harness.uow, harness.store, later)()
    left = {(s.organization_id, s.reference) for s in await harness.store.inventory()}
    assert left == {(s.organization_id, r) for s in sources for r in s.secrets.values()}


async def created(harness: Harness) -> DataSource:
    command = NewDataSource("w", DataSourceKind.POSTGRES, CONFIG | {"password": "old-password"})
    source = await harness.create()(harness.principal, harness.org.id, command)
    assert isinstance(source, DataSource)
    return source


async def test_a_crash_while_creating_leaves_no_data_source(harness: Harness) -> None:
    """Dead after writing the secret, before the commit: no data source, the orphan is swept."""
    harness.die_before_commit = True
    with pytest.raises(Crash):
        await created(harness)
    await assert_consistent(harness, {})


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("writing the new value", b"old-password"),
        ("before the commit", b"old-password"),
        ("deleting the old value", b"new-password"),
    ],
)
async def test_a_crash_while_replacing_a_password(
    harness: Harness, step: str, expected: bytes
) -> None:
    """Whichever step the process dies at, the catalog's password is whole: old or new."""
    source = await created(harness)
    harness.store.changes = 0
    if step == "writing the new value":
        harness.store.dies_at = 1
    elif step == "before the commit":
        harness.die_before_commit = True
    else:
        harness.store.dies_at = 2
    with pytest.raises(Crash):
        changes = DataSourceChanges(config={"password": "new-password"})
        await harness.update()(harness.principal, harness.org.id, source.id, changes)
    harness.die_before_commit = False
    await assert_consistent(harness, {"w": expected})


async def test_a_crash_while_deleting_leaves_only_an_orphan(harness: Harness) -> None:
    """Dead after the commit, before the secret's deletion: the sweep removes the value."""
    source = await created(harness)
    harness.store.changes, harness.store.dies_at = 0, 1
    with pytest.raises(Crash):
        await DeleteDataSource(harness.uow)(harness.principal, harness.org.id, source.id)
    await assert_consistent(harness, {})


async def test_a_commit_whose_answer_is_lost_keeps_the_new_value(harness: Harness) -> None:
    """COMMIT went through but its answer was lost: the value the catalog points at stays."""
    source = await created(harness)
    harness.lose_commit_answer = True
    with pytest.raises(DatabaseUnavailable):
        changes = DataSourceChanges(config={"password": "new-password"})
        await harness.update()(harness.principal, harness.org.id, source.id, changes)
    harness.lose_commit_answer = False
    await assert_consistent(harness, {"w": b"new-password"})
