"""Streams' retryable failures tried again with stamina: jittered exponential backoff, a
bound on attempts and on the total time, each retry logged by stamina's hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager

import stamina
from attrs import frozen


@frozen
class StaminaRetrying:
    """``Retrying`` by stamina (``stamina.set_testing`` makes its waits instant in tests)."""

    attempts_at_most: int = 4
    timeout: float = 120.0
    wait_initial: float = 0.5
    wait_max: float = 10.0

    async def attempts(
        self, retryable: Callable[[Exception], bool]
    ) -> AsyncIterator[AbstractContextManager[None]]:
        async for attempt in stamina.retry_context(
            on=retryable,
            attempts=self.attempts_at_most,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
        ):
            yield attempt
