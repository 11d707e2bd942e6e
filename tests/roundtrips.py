"""A TCP proxy in front of PostgreSQL that counts the messages clients send through it.

Each frontend ``Sync`` ('S', the end of an extended-protocol exchange) and each
simple ``Query`` ('Q', what psycopg sends for BEGIN, COMMIT and ROLLBACK) waits
for the server's answer before the client goes on: their sum is the number of
database round trips. ``Parse`` ('P') counts the statements the server had to
parse again (none once psycopg has prepared them). The proxy needs cleartext
traffic: connect through it with ``sslmode=disable`` and ``gssencmode=disable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable

from psycopg.conninfo import conninfo_to_dict, make_conninfo

# the untyped requests a client may send before its startup message
_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104
Upstream = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class _FrontendParser:
    """Splits a client's byte stream into messages and counts them by type."""

    def __init__(self, counts: Counter[str]) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._started = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if not self._started:  # the startup packet: length, then a protocol code
                if len(self._buffer) < 8:
                    return
                length, code = struct.unpack_from("!ii", self._buffer)
                if len(self._buffer) < length:
                    return
                del self._buffer[:length]
                self._started = code not in (_SSL_REQUEST, _GSS_REQUEST)
                continue
            if len(self._buffer) < 5:
                return
            (length,) = struct.unpack_from("!i", self._buffer, 1)
            if len(self._buffer) < 1 + length:
                return
            self._counts[chr(self._buffer[0])] += 1
            del self._buffer[: 1 + length]


class CountingProxy:
    """Relays TCP connections to a PostgreSQL server on a thread of its own, counting."""

    def __init__(self, database_url: str) -> None:
        self._parts = conninfo_to_dict(database_url)
        self._database_url = database_url
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="counting-proxy")
        self._server: asyncio.Server | None = None
        self.port = 0

    def _upstream(self) -> Upstream:
        host = str(self._parts.get("host") or "localhost")
        port = int(self._parts.get("port") or 5432)
        if host.startswith("/"):
            path = f"{host}/.s.PGSQL.{port}"
            return lambda: asyncio.open_unix_connection(path)
        return lambda: asyncio.open_connection(host, port)

    @property
    def url(self) -> str:
        """The database's URL through the proxy."""
        return make_conninfo(
            self._database_url,
            host="127.0.0.1",
            port=str(self.port),
            sslmode="disable",
            gssencmode="disable",
        )

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._upstream()()
        except OSError:
            writer.close()
            return
        parser = _FrontendParser(self._counts)

        async def pump(
            source: asyncio.StreamReader,
            sink: asyncio.StreamWriter,
            seen: Callable[[bytes], None] | None,
        ) -> None:
            try:
                while data := await source.read(65536):
                    if seen is not None:
                        with self._lock:
                            seen(data)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    sink.close()

        await asyncio.gather(pump(reader, up_writer, parser.feed), pump(up_reader, writer, None))

    def counts(self) -> Counter[str]:
        """The messages counted so far, by type ('S', 'Q', 'P', ...)."""
        with self._lock:
            return Counter(self._counts)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


def round_trips(before: Counter[str], after: Counter[str]) -> tuple[int, int]:
    """Round trips (Sync + Query) and parses between two ``counts()``."""
    delta = after - before
    return delta["S"] + delta["Q"], delta["P"]
