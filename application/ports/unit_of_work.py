"""The transaction boundary every use case works through."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from thedata.application.ports.catalog import DataSourceRepository, PipelineRepository
from thedata.application.ports.idempotency import IdempotencyStore
from thedata.application.ports.identity import (
    AccessTokenRepository,
    ApiKeyRepository,
    LoginThrottle,
    MembershipRepository,
    OrganizationRepository,
    UserRepository,
)
from thedata.application.ports.runs import RunRepository
from thedata.application.ports.secrets import SecretWriter
from thedata.application.ports.workers import WorkerRegistry


class UnitOfWork(Protocol):
    """One atomic piece of work: everything done inside is kept by ``commit`` or not at all.

    Use it as ``async with uow: ...; await uow.commit()``. Leaving the block
    without ``commit`` (normally or by an exception) discards every change.
    Adapters raise ``DatabaseUnavailable`` when the store cannot be reached and
    ``ConcurrentUpdate`` when a concurrent transaction wins, and
    ``ReferenceConflict`` when a change refers to a row a concurrent one removed
    (or removes one still referred to); all leave nothing behind. The
    repositories and ``secrets`` work inside the unit's transaction.
    """

    @property
    def users(self) -> UserRepository: ...
    @property
    def organizations(self) -> OrganizationRepository: ...
    @property
    def memberships(self) -> MembershipRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def access_tokens(self) -> AccessTokenRepository: ...
    @property
    def login_throttle(self) -> LoginThrottle: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def data_sources(self) -> DataSourceRepository: ...
    @property
    def pipelines(self) -> PipelineRepository: ...
    @property
    def runs(self) -> RunRepository: ...
    @property
    def workers(self) -> WorkerRegistry: ...
    @property
    def secrets(self) -> SecretWriter: ...

    def reading(self) -> Self:
        """Mark this unit of work, before it is entered, as one that only reads: it holds no
        transaction (each statement sees what was committed when it ran, as it would in a
        READ COMMITTED transaction), so it costs no BEGIN and no ROLLBACK; ``commit`` is
        refused. For reads only: a lock taken in it ends with its statement."""
        ...

    def one_change(self) -> Self:
        """Mark this unit of work, before it is entered, as one that makes a single change (one
        statement, after any reads) and then commits: an adapter may run each statement as
        its own transaction, which spares the BEGIN and the COMMIT. What such a unit reads
        is what was committed when each read ran (a READ COMMITTED transaction promises no
        more); its change is kept once its statement ends, whatever follows, so ``commit``
        must come straight after it. It writes no secrets and cannot roll back."""
        ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the transaction, discarding whatever was not committed."""
        ...

    async def commit(self) -> None:
        """Make every change of this unit of work durable and visible to others."""
        ...

    async def rollback(self) -> None:
        """Discard every change made since the transaction began or was last committed."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Makes a fresh, not yet entered unit of work; use cases take one of these."""
