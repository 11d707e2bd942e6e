"""One pooled connection for a request's caller and its use case, not two.

An authenticated request runs two units of work back to back: one resolves the
caller, the next runs the use case. Returning the connection to the pool in
between and taking one again cost a request a second checkout, and under load a
second wait in the pool's queue (measured: a create pipeline's CPU per request
fell by a sixth without it). So, inside a ``request_scope``, the unit of work that
ends while ``handing_on()`` is active leaves its connection in the request's slot
instead, and the next unit of work of the request takes it from there.

Only that one hand-over happens: the use case's unit of work returns its
connection to the pool as always, so a use case that goes on to slow work (a data
source's check) holds nothing meanwhile. A connection is handed on only when it
is idle, outside any transaction, and its unit of work ended without an error.
Whatever is still in the slot when the request ends (a caller refused, a request
that needed no unit of work) goes back to the pool then, even if the request was
cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool


class _Slot:
    __slots__ = ("connection", "open", "pool")

    def __init__(self) -> None:
        self.connection: AsyncConnection[Any] | None = None
        self.pool: AsyncConnectionPool | None = None
        self.open = False  # a unit of work ending now may leave its connection here


_SLOT: ContextVar[_Slot | None] = ContextVar("thedata_connection_handoff", default=None)


class request_scope:
    """A request's slot: opened around the whole request, emptied into the pool at its end.

    ``async with request_scope():`` around the request; or, where two coroutines per
    request count (the HTTP edge's), ``scope = request_scope().open()`` before it and,
    after it, ``leftover = scope.close()`` and, when that is not ``None``, ``await
    leftover``: the connection still in the slot going back to the pool.
    """

    __slots__ = ("_slot", "_token")

    def open(self) -> request_scope:
        self._slot = _Slot()
        self._token: Token[_Slot | None] = _SLOT.set(self._slot)
        return self

    def close(self) -> Awaitable[None] | None:
        _SLOT.reset(self._token)
        slot = self._slot
        slot.open = False
        connection, pool, slot.connection = slot.connection, slot.pool, None
        if connection is None or pool is None:
            return None
        # shielded: a cancelled request must not leave the connection out of the pool
        return asyncio.shield(pool.putconn(connection))

    async def __aenter__(self) -> None:
        self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        leftover = self.close()
        if leftover is not None:
            await leftover


@contextmanager
def handing_on() -> Iterator[None]:
    """While active, the unit of work that ends leaves its connection for the request's next."""
    slot = _SLOT.get()
    if slot is None:  # outside a request scope: nothing to hand on to
        yield
        return
    slot.open = True
    try:
        yield
    finally:
        slot.open = False


def take(pool: AsyncConnectionPool) -> AsyncConnection[Any] | None:
    """The connection handed on to this request from ``pool``, if there is one (once)."""
    slot = _SLOT.get()
    if slot is None or slot.connection is None or slot.pool is not pool:
        return None
    connection, slot.connection = slot.connection, None
    return connection


def leave(pool: AsyncConnectionPool, connection: AsyncConnection[Any]) -> bool:
    """Leave ``connection`` for the request's next unit of work if one is expected; whether
    it was left (if not, the caller returns it to the pool)."""
    slot = _SLOT.get()
    if slot is None or not slot.open or slot.connection is not None:
        return False
    if connection.info.transaction_status != TransactionStatus.IDLE:
        return False
    slot.connection, slot.pool = connection, pool
    return True
