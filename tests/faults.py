"""Fault injection: a TCP proxy that can stop relaying, and a host that never answers."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Literal

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class PartitionableProxy:
    """Relays local TCP connections to the database until ``partition`` or ``choke`` is called.

    While partitioned, bytes are held, not dropped and not refused: to the
    client the database looks alive but silent, the worst case for timeouts.
    Choked, each connection relays the database's first bytes only, then holds (a read
    stalls in its middle whatever the speed of the machine), or resets the connection, or
    relays garbage in place of the rest.
    It runs its own event loop in a thread, independent of the code under test.
    """

    def __init__(self, connect_upstream: Connect) -> None:
        self._connect_upstream = connect_upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._healthy = asyncio.Event()
        self._unchoked = asyncio.Event()
        self._answers_allowed = math.inf
        self._then = "hold"
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        self._call(self._start()).result(timeout=5)

    def partition(self) -> None:
        self._loop.call_soon_threadsafe(self._healthy.clear)

    def choke(self, after_bytes: int, then: Literal["hold", "reset", "garble"] = "hold") -> None:
        """From now on, each connection relays at most ``after_bytes`` of the database's
        answers (counted from its start), then holds the rest until ``heal`` (or resets
        the connection, or sends as many bytes of garbage instead)."""
        self._loop.call_soon_threadsafe(self._choke, after_bytes, then)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(self._heal)

    def _choke(self, after_bytes: int, then: str) -> None:
        self._answers_allowed, self._then = after_bytes, then
        self._unchoked.clear()

    def _heal(self) -> None:
        self._answers_allowed = math.inf
        self._unchoked.set()
        self._healthy.set()

    def stop(self) -> None:
        self._call(self._stop()).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coroutine: Awaitable[None]) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self._heal()
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._healthy.wait()
            upstream_reader, upstream_writer = await self._connect_upstream()
            await asyncio.gather(
                self._pump(reader, upstream_writer),
                self._pump(upstream_reader, writer, answers=True),
                return_exceptions=True,
            )
            upstream_writer.close()
        writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, answers: bool = False
    ) -> None:
        relayed = 0
        while data := await source.read(65536):
            await self._healthy.wait()
            relayed += len(data)
            if answers and relayed > self._answers_allowed:
                if self._then == "reset":
                    target.transport.abort()
                    return
                if self._then == "garble":
                    data = os.urandom(len(data))
                else:
                    await self._unchoked.wait()
            target.write(data)
            await target.drain()
        target.close()


class Blackhole:
    """A host that accepts TCP connections and never answers; counts the connections."""

    def __init__(self) -> None:
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        self._server.close()
