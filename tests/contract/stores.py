"""The two stores a repository contract runs on, each holding one organization (``self.org``)
and handing out units of work on it (``new_uow``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from tests.conftest import pool_on
from tests.contract.test_identity_repositories import an_organization
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.application.ports import UnitOfWork
from thedata.domain.organizations import Organization


class OnMemory:
    """The contract on the in-memory store."""

    org: Organization

    @pytest.fixture(autouse=True)
    async def _store(self) -> None:
        self.store = InMemoryStore()
        self.org = an_organization()
        async with self.new_uow() as uow:
            await uow.organizations.add(self.org)
            await uow.commit()

    def new_uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.store)


@pytest.mark.postgres
class OnPostgres:
    """The contract on a real, migrated PostgreSQL database (``pool_size`` connections, for
    the tests that hold several units of work open at once)."""

    org: Organization
    pool_size: ClassVar[int] = 2

    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str) -> AsyncIterator[None]:
        async with pool_on(migrated_database_url, max_size=self.pool_size) as self.pool:
            self.org = an_organization()
            async with self.new_uow() as uow:
                await uow.organizations.add(self.org)
                await uow.commit()
            yield

    def new_uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.pool)
