"""A local OpenTelemetry trace receiver for benchmarks, and the environment that points a
``thedata serve`` at it with every span kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace endpoint that accepts every export (an empty response is a
    valid ``ExportTraceServiceResponse``) and counts what arrived."""

    exports = 0
    received_bytes = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            Receiver.exports += 1
            Receiver.received_bytes += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def otlp_receiver() -> Iterator[str]:
    """A trace receiver on loopback for the block; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def tracing_env(receiver: str) -> dict[str, str]:
    """Trace every request to ``receiver`` (OTLP/HTTP), none dropped under load: the whole
    cost of tracing, as the ``otel`` extra does it."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_SERVICE_NAME": "thedata-bench",
        "OTEL_BSP_MAX_QUEUE_SIZE": "200000",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
    }
