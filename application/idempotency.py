"""Idempotency keys: a retried create returns the first response and creates nothing new."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from attrs import frozen

from thedata.application.ports.idempotency import StoredResponse
from thedata.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from thedata.domain.errors import Conflict

T = TypeVar("T")


class Replayed(Exception):
    """The request was made before with the same key and body: answer with what was stored.

    Raised by ``creating`` instead of creating again; the delivery mechanism
    that built the request turns it back into its response, in one place.
    """

    def __init__(self, response: StoredResponse) -> None:
        super().__init__("replayed")
        self.response = response


class IdempotencyKeyReused(Conflict):
    """The idempotency key was used before for a different request."""

    code = "idempotency_key_reused"


@frozen
class IdempotentRequest(Generic[T]):
    """A creating request that carries an idempotency key.

    ``fingerprint`` identifies the request (what is asked and with which
    body); ``render`` turns the use case's result into the response that is
    stored and replayed, so the first answer and every replay are the same bytes.
    """

    key: str
    fingerprint: str
    render: Callable[[T], StoredResponse]


async def _replay_or_claim(
    uow: UnitOfWork,
    scope: str,
    request: IdempotentRequest[T] | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse | None:
    """The stored response of an earlier identical request, or ``None`` after claiming the key.

    Runs first in the creating unit of work, so that the record and the
    creation commit together: a concurrent retry waits for this unit and then
    replays its response, and a failed attempt leaves the key free.
    """
    if request is None:
        return None
    earlier = await uow.idempotency.claim(scope, request.key, request.fingerprint, now, now + ttl)
    if earlier is None:
        return None
    fingerprint, response = earlier
    if fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request; use a new key"
        )
    return response


async def _remember(
    uow: UnitOfWork, scope: str, request: IdempotentRequest[T] | None, result: T
) -> None:
    """Store the response to replay for ``request`` (in the unit that created ``result``)."""
    if request is not None:
        await uow.idempotency.save(scope, request.key, request.render(result))


Commit = Callable[[T], Awaitable[None]]
"""Remembers the creating request's response for ``result``, then commits the unit of work."""


@asynccontextmanager
async def creating(
    uow: UnitOfWorkFactory,
    scope: str,
    request: IdempotentRequest[T] | None,
    now: datetime,
    ttl: timedelta,
    *,
    one_change: bool = False,
) -> AsyncIterator[tuple[UnitOfWork, Commit[T]]]:
    """The unit of work of a creating use case, with its idempotency key handled.

    On entry the key is claimed (``Replayed`` if an identical request was
    answered before, ``IdempotencyKeyReused`` for another body); the use case
    creates through the unit of work and ends with ``await commit(result)``,
    which stores the response to replay together with what was created.
    Use cases stay unaware of responses: they return their domain result.

    ``one_change``: the use case makes one change (a single statement, after any reads)
    right before its ``commit``. Without an idempotency key, its unit of work may then run
    without a transaction (``UnitOfWork.one_change``); with one, the key's record and the
    change are two writes and share a transaction.
    """
    unit_of_work = uow()
    if request is None and one_change:
        unit_of_work = unit_of_work.one_change()
    async with unit_of_work as unit:
        replay = await _replay_or_claim(unit, scope, request, now, ttl)
        if replay is not None:
            raise Replayed(replay)

        async def commit(result: T) -> None:
            await _remember(unit, scope, request, result)
            await unit.commit()

        yield unit, commit
