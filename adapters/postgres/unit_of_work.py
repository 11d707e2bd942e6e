"""A unit of work as one PostgreSQL transaction on a pooled connection."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from thedata.adapters.postgres import handoff
from thedata.adapters.postgres.errors import translated_errors
from thedata.adapters.postgres.repositories import (
    PostgresAccessTokenRepository,
    PostgresApiKeyRepository,
    PostgresDataSourceRepository,
    PostgresIdempotencyStore,
    PostgresLoginThrottle,
    PostgresMembershipRepository,
    PostgresOrganizationRepository,
    PostgresPipelineRepository,
    PostgresRunRepository,
    PostgresUserRepository,
    PostgresWorkerRegistry,
)
from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.application.errors import DatabaseUnavailable


class TransactionSecrets(Protocol):
    """A secret store's part in a unit of work (``SecretWriter``), told how the unit ended."""

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None: ...
    async def delete(self, organization_id: UUID, reference: str) -> None: ...
    async def committed(self) -> None:
        """The unit's transaction committed."""
        ...

    async def discarded(self) -> None:
        """The unit's changes since its last commit were rolled back."""
        ...

    async def in_doubt(self) -> None:
        """A commit failed without saying whether it happened: undo and apply nothing."""
        ...


SecretsJoiner = Callable[[ConnectionSource], TransactionSecrets]
"""Makes a secret store's part in a unit of work, given the unit's connection."""


class _NoSecretStore:
    """For units of work built without a secret store: any secret change is a wiring bug."""

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        raise RuntimeError("this unit of work was built without a secret store")

    async def delete(self, organization_id: UUID, reference: str) -> None:
        raise RuntimeError("this unit of work was built without a secret store")

    async def committed(self) -> None:
        return None

    async def discarded(self) -> None:
        return None

    async def in_doubt(self) -> None:
        return None


class PostgresUnitOfWork:
    """Borrows a connection on entry, runs one transaction, returns the connection on exit.

    Repositories of the Postgres adapter run their statements on
    ``connection``; psycopg opens the transaction with the first statement.
    A driver error that leaves the block comes out as the port's error.
    """

    def __init__(self, pool: AsyncConnectionPool, secrets: SecretsJoiner | None = None) -> None:
        self._pool = pool
        self._joiner = secrets
        self._connection: AsyncConnection[TupleRow] | None = None
        self._reading = False
        self._one_change = False

    # Each repository is built when first used: a request uses one or two of them, and
    # building all eleven cost as much as the pool's checkout.
    def _source(self) -> AsyncConnection[TupleRow]:
        return self.connection  # read at each statement, not when the repository is built

    @functools.cached_property
    def users(self) -> PostgresUserRepository:
        return PostgresUserRepository(self._source)

    @functools.cached_property
    def organizations(self) -> PostgresOrganizationRepository:
        return PostgresOrganizationRepository(self._source)

    @functools.cached_property
    def memberships(self) -> PostgresMembershipRepository:
        return PostgresMembershipRepository(self._source)

    @functools.cached_property
    def api_keys(self) -> PostgresApiKeyRepository:
        return PostgresApiKeyRepository(self._source)

    @functools.cached_property
    def access_tokens(self) -> PostgresAccessTokenRepository:
        return PostgresAccessTokenRepository(self._source)

    @functools.cached_property
    def login_throttle(self) -> PostgresLoginThrottle:
        return PostgresLoginThrottle(self._source)

    @functools.cached_property
    def idempotency(self) -> PostgresIdempotencyStore:
        return PostgresIdempotencyStore(self._source)

    @functools.cached_property
    def data_sources(self) -> PostgresDataSourceRepository:
        return PostgresDataSourceRepository(self._source)

    @functools.cached_property
    def pipelines(self) -> PostgresPipelineRepository:
        return PostgresPipelineRepository(self._source)

    @functools.cached_property
    def runs(self) -> PostgresRunRepository:
        return PostgresRunRepository(self._source)

    @functools.cached_property
    def workers(self) -> PostgresWorkerRegistry:
        return PostgresWorkerRegistry(self._source)

    @functools.cached_property
    def secrets(self) -> TransactionSecrets:
        """The secret store's part: it joins this transaction (or, for a file, the protocol
        around it)."""
        if self._one_change:
            raise RuntimeError("a unit of work of one change writes no secrets")
        return self._joiner(self._source) if self._joiner else _NoSecretStore()

    def _secrets_in_use(self) -> TransactionSecrets | None:
        used: TransactionSecrets | None = self.__dict__.get("secrets")
        return used  # None when never built: nothing was put or deleted

    async def _secrets_discarded(self) -> None:
        if (secrets := self._secrets_in_use()) is not None:
            await secrets.discarded()

    @property
    def connection(self) -> AsyncConnection[TupleRow]:
        """The connection of the active transaction."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not active; use `async with uow:`")
        return self._connection

    def reading(self) -> Self:
        self._reading = True
        return self

    def one_change(self) -> Self:
        self._one_change = True
        return self

    async def __aenter__(self) -> Self:
        with translated_errors():
            # the connection the request's caller was resolved on, if it was handed on
            connection = handoff.take(self._pool) or await self._pool.getconn()
            # Reading, each statement is its own transaction: one round trip, no BEGIN or
            # ROLLBACK around it, and psycopg keeps the statements it prepared (a ROLLBACK
            # would make it forget them). A connection keeps the mode its last unit of work
            # set, so reads, the most frequent, mostly find it set already.
            # One change is the same: its statement commits itself, no BEGIN, no COMMIT.
            autocommit = self._reading or self._one_change
            if connection.autocommit is not autocommit:
                try:
                    await connection.set_autocommit(autocommit)
                except BaseException:
                    await self._pool.putconn(connection)
                    raise
            self._connection = connection
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self.connection, None
        try:
            with translated_errors():
                if not (self._reading or self._one_change):  # else no transaction to end
                    await connection.rollback()
        except DatabaseUnavailable:
            # the error that ended the block says more than a failed rollback on a
            # connection that is gone anyway
            if exc is None:
                raise
        finally:
            # the pool discards a connection that is broken or still in a transaction
            if exc is not None or not handoff.leave(self._pool, connection):
                await self._pool.putconn(connection)
            await self._secrets_discarded()
        if isinstance(exc, psycopg.Error):
            # repositories' statements fail here too: one choke point for the whole block
            with translated_errors():
                raise exc

    async def commit(self) -> None:
        """Commit the transaction; the next statement starts a new one.

        When the commit fails, whether it happened is unknown (the server may
        have committed and the answer been lost): the secret store is told so,
        and leaves everything in place for the sweep rather than guess.
        """
        if self._reading:
            raise RuntimeError("a reading unit of work commits nothing")
        if self._one_change:
            return  # its statement committed when it ended
        try:
            with translated_errors():
                await self.connection.commit()
        except BaseException:
            if (secrets := self._secrets_in_use()) is not None:
                await secrets.in_doubt()
            raise
        if (secrets := self._secrets_in_use()) is not None:
            await secrets.committed()

    async def rollback(self) -> None:
        """Roll the transaction back."""
        if self._one_change:
            raise RuntimeError("a unit of work of one change keeps its change when it is made")
        with translated_errors():
            await self.connection.rollback()
        await self._secrets_discarded()
