"""A PostgreSQL server that only asks for a password, on 127.0.0.1: what does a client send it?

It speaks just enough of the protocol (refuses TLS and GSS encryption, reads the
startup packet, asks for one authentication method) and records every byte each
client sends, so a test can tell whether a password left the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104
# authentication request codes of the 'R' message
CLEARTEXT, MD5, SASL = 3, 5, 10


def _auth_request(method: str) -> bytes:
    if method == "cleartext":
        body = struct.pack("!i", CLEARTEXT)
    elif method == "md5":
        body = struct.pack("!i", MD5) + b"salt"
    elif method == "scram":
        body = struct.pack("!i", SASL) + b"SCRAM-SHA-256\x00\x00"
    else:
        raise ValueError(method)
    return b"R" + struct.pack("!i", len(body) + 4) + body


class FakePostgres:
    """Listens on 127.0.0.1; asks each client for ``method`` and records what comes back."""

    def __init__(self, method: str = "cleartext") -> None:
        self.method = method
        self.received: list[bytes] = []
        self.answers: list[bytes] = []
        """What each client sent after being asked to authenticate."""
        self.startups: list[dict[str, str]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def connections(self) -> int:
        return len(self.received)

    async def __aenter__(self) -> FakePostgres:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(self.received)
        self.received.append(b"")
        try:
            while True:
                length, code = struct.unpack("!ii", await reader.readexactly(8))
                payload = await reader.readexactly(length - 8)
                self.received[index] += payload
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    writer.write(b"N")  # no TLS, no GSS encryption here
                    continue
                parts = payload.rstrip(b"\x00").split(b"\x00")
                self.startups.append(
                    {k.decode(): v.decode() for k, v in zip(parts[::2], parts[1::2], strict=False)}
                )
                break
            writer.write(_auth_request(self.method))
            await writer.drain()
            self.answers.append(b"")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while chunk := await reader.read(65536):
                        self.received[index] += chunk
                        self.answers[-1] += chunk
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
