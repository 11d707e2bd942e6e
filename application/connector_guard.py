"""Every connector call goes through here: a circuit breaker per data source, a hard time
limit, and one call in flight per data source and operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from attrs import frozen

from thedata.application.errors import CircuitOpen, ConnectorFailed, ConnectorMisconfigured
from thedata.application.ports.clock import Clock
from thedata.domain.circuit_breaker import (
    BreakerSettings,
    CircuitBreaker,
    CircuitState,
    Transition,
)

T = TypeVar("T")
TransitionListener = Callable[[UUID, str, Transition], None]
"""Told of each breaker's change: the data source's id, its kind, the change."""


@frozen
class GuardedOutcome:
    """The state a data source's breaker is in after a call, to be recorded with its health."""

    circuit: CircuitState
    open_until: datetime | None


class ConnectorGuard:
    """Process-wide guard of connector calls.

    - Breaker: each data source has a ``CircuitBreaker``; an open one refuses
      calls at once (``CircuitOpen``). A circuit another process opened (its
      ``open_until`` is stored with the data source) is respected too.
    - Time limit: a call that takes longer than ``timeout`` seconds fails.
    - Single flight: concurrent identical calls (a check, a discovery) of one
      data source share one real call, so fifty checks of a dead host make one
      connection attempt, not fifty.

    A ``ConnectorMisconfigured`` answer is not an outage: the system answered,
    so it does not count against the breaker. Calls made with
    ``record_failures=False`` (a viewer's) respect an open circuit but cannot
    open one.
    """

    def __init__(
        self,
        clock: Clock,
        settings: BreakerSettings,
        timeout: float,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self._clock, self._settings, self._timeout = clock, settings, timeout
        self._on_transition = on_transition or (lambda _id, _kind, _t: None)
        self._breakers: dict[UUID, CircuitBreaker] = {}
        self._in_flight: dict[tuple[UUID, str, bool], asyncio.Future[Any]] = {}
        self._kinds: dict[UUID, str] = {}

    def state(self, data_source_id: UUID) -> CircuitState:
        """The breaker's state in this process."""
        breaker = self._breakers.get(data_source_id)
        return breaker.state if breaker else CircuitState.CLOSED

    def open_by_kind(self) -> dict[str, int]:
        """How many data sources of each kind this process's breakers refuse now (open and
        still pausing; one past its pause lets the next call through)."""
        now = self._clock.monotonic()
        counts: dict[str, int] = {}
        for data_source_id, breaker in self._breakers.items():
            if breaker.state is CircuitState.OPEN and now - breaker.opened_at < (
                self._settings.wait_in_open
            ):
                kind = self._kinds.get(data_source_id, "unknown")
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def outcome(self, data_source_id: UUID) -> GuardedOutcome:
        """The breaker's state and, when open, until when (wall-clock) it refuses calls."""
        breaker = self._breakers.get(data_source_id)
        if breaker is None or breaker.state is not CircuitState.OPEN:
            return GuardedOutcome(self.state(data_source_id), None)
        remaining = self._settings.wait_in_open - (self._clock.monotonic() - breaker.opened_at)
        return GuardedOutcome(
            CircuitState.OPEN, self._clock.now() + timedelta(seconds=max(0.0, remaining))
        )

    async def call(
        self,
        data_source_id: UUID,
        operation: str,
        action: Callable[[], Awaitable[T]],
        *,
        open_elsewhere_until: datetime | None = None,
        record_failures: bool = True,
        kind: str = "unknown",
    ) -> T:
        """Run ``action`` under the breaker and time limit, joining an identical call in flight.
        ``kind`` is the data source's, for those told of the breaker's changes."""
        self._kinds[data_source_id] = kind
        key = (data_source_id, operation, record_failures)
        task = self._in_flight.get(key)
        if task is None:
            # a task of its own: a caller who gives up (a client that disconnects) does not
            # cancel the attempt the other callers are waiting for
            task = asyncio.ensure_future(
                self._guarded(data_source_id, action, open_elsewhere_until, record_failures)
            )
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _finished(self, key: tuple[UUID, str, bool], task: asyncio.Future[Any]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an attempt nobody awaited any more is quiet

    async def _guarded(
        self,
        data_source_id: UUID,
        action: Callable[[], Awaitable[T]],
        open_elsewhere_until: datetime | None,
        record_failures: bool,
    ) -> T:
        breaker = self._breakers.setdefault(data_source_id, CircuitBreaker(self._settings))
        elsewhere = open_elsewhere_until or self._clock.now()
        if elsewhere > self._clock.now() and breaker.state is not CircuitState.OPEN:
            wait = (elsewhere - self._clock.now()).total_seconds()
            raise CircuitOpen(
                "recent calls to this data source failed; calls resume after a pause",
                retry_after=max(1, round(wait)),
            )
        if not record_failures:
            # only calls whose outcome counts may take the half-open state's trial slots
            allowed = breaker.state is CircuitState.CLOSED
        else:
            allowed, transition = breaker.acquire(self._clock.monotonic())
            self._notify(data_source_id, transition)
        if not allowed:
            wait = self._settings.wait_in_open - (self._clock.monotonic() - breaker.opened_at)
            raise CircuitOpen(
                "recent calls to this data source failed; calls resume after a pause",
                retry_after=max(1, round(wait)),
            )
        try:
            async with asyncio.timeout(self._timeout):
                value = await action()
        except TimeoutError:
            if record_failures:
                self._record(data_source_id, breaker, success=False)
            raise ConnectorFailed(f"no answer within {self._timeout:g} s") from None
        except ConnectorMisconfigured:
            if record_failures:
                self._record(data_source_id, breaker, success=True)  # it answered
            raise
        except BaseException:
            if record_failures:
                self._record(data_source_id, breaker, success=False)
            raise
        if record_failures:
            self._record(data_source_id, breaker, success=True)
        return value

    def _record(self, data_source_id: UUID, breaker: CircuitBreaker, *, success: bool) -> None:
        self._notify(data_source_id, breaker.record(self._clock.monotonic(), success=success))

    def _notify(self, data_source_id: UUID, transition: Transition | None) -> None:
        if transition is not None:
            kind = self._kinds.get(data_source_id, "unknown")
            self._on_transition(data_source_id, kind, transition)
