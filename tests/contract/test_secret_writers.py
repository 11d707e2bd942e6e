"""One contract for a secret store's part in a unit of work, on every store it is wired with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import pool_on
from tests.contract.test_identity_repositories import an_organization
from tests.identity import ManualClock
from tests.secrets import cipher
from thedata.adapters.memory import InMemorySecretStore, InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.adapters.secrets import EncryptedFileSecretStore, PostgresSecretStore
from thedata.application.ports import SecretStore, UnitOfWork
from thedata.application.use_cases import SweepOrphanSecrets
from thedata.domain.organizations import Organization
from thedata.domain.secrets import SecretNotFound

REFERENCE = "data-source/0190a8b2-0000-7000-8000-000000000001/password/1"


class Boom(Exception):
    """An error that ends a unit of work early."""


class SecretWriterContract(ABC):
    """Secrets written through a unit of work are kept with its commit and undone without it."""

    org: Organization
    store: SecretStore

    @abstractmethod
    def new_uow(self) -> UnitOfWork:
        """A unit of work whose ``secrets`` write to ``self.store``."""

    async def stored(self) -> set[str]:
        return {s.reference for s in await self.store.inventory()}

    async def test_a_committed_put_is_readable(self) -> None:
        """After the commit, the store returns the value."""
        async with self.new_uow() as uow:
            await uow.secrets.put(self.org.id, REFERENCE, b"s3cret-value")
            await uow.commit()
        assert await self.store.get(self.org.id, REFERENCE) == b"s3cret-value"

    async def test_a_put_without_commit_leaves_nothing(self) -> None:
        """A unit that ends without committing (or by an error) keeps no value."""
        async with self.new_uow() as uow:
            await uow.secrets.put(self.org.id, REFERENCE, b"s3cret-value")
        with pytest.raises(Boom):
            async with self.new_uow() as uow:
                await uow.secrets.put(self.org.id, REFERENCE + "x", b"s3cret-value")
                raise Boom
        assert await self.stored() == set()
        with pytest.raises(SecretNotFound):
            await self.store.get(self.org.id, REFERENCE)

    async def test_a_delete_takes_effect_with_the_commit(self) -> None:
        """A delete in a unit that does not commit leaves the value; one that commits removes it."""
        async with self.new_uow() as uow:
            await uow.secrets.put(self.org.id, REFERENCE, b"s3cret-value")
            await uow.commit()
        async with self.new_uow() as uow:
            await uow.secrets.delete(self.org.id, REFERENCE)
        assert await self.store.get(self.org.id, REFERENCE) == b"s3cret-value"
        async with self.new_uow() as uow:
            await uow.secrets.delete(self.org.id, REFERENCE)
            await uow.commit()
        assert await self.stored() == set()

    async def test_a_deleted_organizations_secrets_are_gone_after_a_sweep(self) -> None:
        """Deleting the organization removes its secrets (at once, or by the sweep)."""
        async with self.new_uow() as uow:
            await uow.secrets.put(self.org.id, REFERENCE, b"s3cret-value")
            await uow.commit()
        async with self.new_uow() as uow:
            await uow.organizations.delete(self.org.id)
            await uow.commit()
        clock = ManualClock(datetime.now(UTC) + timedelta(days=1))
        await SweepOrphanSecrets(self.new_uow, self.store, clock)()
        assert await self.stored() == set()


class TestInMemorySecretWriter(SecretWriterContract):
    """The contract on the memory unit of work and store."""

    @pytest.fixture(autouse=True)
    async def _store(self) -> None:
        self.memory = InMemoryStore()
        self.store = InMemorySecretStore(self.memory)
        self.org = an_organization()
        async with self.new_uow() as uow:
            await uow.organizations.add(self.org)
            await uow.commit()

    def new_uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.memory)


@pytest.mark.postgres
class TestPostgresSecretWriter(SecretWriterContract):
    """The contract on PostgreSQL: the store joins the unit's transaction."""

    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str) -> AsyncIterator[None]:
        async with pool_on(migrated_database_url) as self.pool:
            self.postgres_store = PostgresSecretStore(self.pool, cipher(1))
            self.store = self.postgres_store
            self.org = an_organization()
            async with self.new_uow() as uow:
                await uow.organizations.add(self.org)
                await uow.commit()
            yield

    def new_uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.pool, secrets=self.postgres_store.joined)


@pytest.mark.postgres
class TestFileSecretWriter(SecretWriterContract):
    """The contract on a real file beside a PostgreSQL catalog: the fresh-reference protocol."""

    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str, tmp_path: Path) -> AsyncIterator[None]:
        async with pool_on(migrated_database_url) as self.pool:
            self.file_store = EncryptedFileSecretStore(tmp_path / "secrets.json", cipher(1))
            self.store = self.file_store
            self.org = an_organization()
            async with self.new_uow() as uow:
                await uow.organizations.add(self.org)
                await uow.commit()
            yield

    def new_uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.pool, secrets=self.file_store.joined)
