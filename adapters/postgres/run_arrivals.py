"""Run arrivals over PostgreSQL's LISTEN/NOTIFY.

A queued run's insert notifies ``thedata_run_queued`` in its own transaction
(``repositories/runs.py``), so the word goes out when, and only if, the run is
committed. Each worker listens on a connection of its own (outside the pool: a
LISTEN holds its connection for good) and reconnects after a pause when it is
lost; missed words cost only the poll's delay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
import structlog

CHANNEL = "thedata_run_queued"
log = structlog.get_logger("thedata.worker")


class PostgresRunArrivals:
    """Listens for queued runs on its own connection."""

    def __init__(self, conninfo: str, connect_timeout: float, retry_pause: float = 5.0) -> None:
        self._conninfo, self._timeout, self._pause = conninfo, connect_timeout, retry_pause

    async def watch(self, arrived: Callable[[], None], stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self._listen(arrived, stopping)
            except psycopg.Error as e:
                log.warning("listening for queued runs failed; polling meanwhile", error=str(e))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._pause)

    async def _listen(self, arrived: Callable[[], None], stopping: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=max(1, round(self._timeout))
        ) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            while not stopping.is_set():
                # a bounded wait, so a stop is seen within a second
                async for _ in connection.notifies(timeout=1.0):
                    arrived()
