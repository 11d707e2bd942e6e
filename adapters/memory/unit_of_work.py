"""A unit of work over ``InMemoryStore``, for unit tests and library users without a database."""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Any, Self

from thedata.adapters.memory.repositories import (
    InMemoryAccessTokenRepository,
    InMemoryApiKeyRepository,
    InMemoryDataSourceRepository,
    InMemoryIdempotencyStore,
    InMemoryLoginThrottle,
    InMemoryMembershipRepository,
    InMemoryOrganizationRepository,
    InMemoryPipelineRepository,
    InMemoryRunRepository,
    InMemorySecretWriter,
    InMemoryUserRepository,
    InMemoryWorkerRegistry,
)
from thedata.adapters.memory.store import InMemoryStore


class InMemoryUnitOfWork:
    """Serializable transactions in memory: one unit of work at a time holds the store.

    Holding the store's lock for the whole block is the simplest way to give the
    same guarantee the Postgres adapter gives (no lost update, no dirty read)
    in a single process; it is not built for concurrency, only for correctness.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._tables: dict[str, dict[Any, Any]] | None = None
        self._reading = False
        self._one_change = False
        table = self.table
        self.users = InMemoryUserRepository(table)
        self.organizations = InMemoryOrganizationRepository(table)
        self.memberships = InMemoryMembershipRepository(table)
        self.api_keys = InMemoryApiKeyRepository(table)
        self.access_tokens = InMemoryAccessTokenRepository(table)
        self.login_throttle = InMemoryLoginThrottle(table)
        self.idempotency = InMemoryIdempotencyStore(table)
        self.data_sources = InMemoryDataSourceRepository(table)
        self.pipelines = InMemoryPipelineRepository(table)
        self.runs = InMemoryRunRepository(table, store.now)
        self.workers = InMemoryWorkerRegistry(table, store.now)
        self._secrets = InMemorySecretWriter(table)

    @property
    def secrets(self) -> InMemorySecretWriter:
        """The secret store's part in this unit of work."""
        if self._one_change:
            raise RuntimeError("a unit of work of one change writes no secrets")
        return self._secrets

    @property
    def tables(self) -> dict[str, dict[Any, Any]]:
        """The working copy of the store's tables; changes reach the store on commit."""
        if self._tables is None:
            raise RuntimeError("the unit of work is not active; use `async with uow:`")
        return self._tables

    def table(self, name: str) -> dict[Any, Any]:
        """The working copy of one table (created empty on first use)."""
        return self.tables.setdefault(name, {})

    def reading(self) -> Self:
        self._reading = True
        return self

    def one_change(self) -> Self:
        # a whole transaction promises more than one change needs; what such a unit may not
        # do (roll back, write secrets) is refused here as PostgreSQL refuses it
        self._one_change = True
        return self

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._tables = copy.deepcopy(self._store.tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tables = None
        self._store.lock.release()

    async def commit(self) -> None:
        """Publish the working copy; later changes start from what was committed."""
        if self._reading:
            raise RuntimeError("a reading unit of work commits nothing")
        self._store.tables = copy.deepcopy(self.tables)

    async def rollback(self) -> None:
        """Throw the working copy away and start again from the store."""
        if self._one_change:
            raise RuntimeError("a unit of work of one change keeps its change when it is made")
        self.tables  # noqa: B018 - raises when the unit of work is not active
        self._tables = copy.deepcopy(self._store.tables)
