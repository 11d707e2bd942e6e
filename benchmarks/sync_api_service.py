"""What the API sync benchmark runs against: a control database, ``thedata serve``, its API.

The control database is an embedded PostgreSQL of the benchmark's own, not the
server the data sources are on: the service refuses any database of the
server that holds its own (docs/connectors.md), so the two must be separate
servers. It listens on a Unix socket under a port number of its own
(``PGPORT`` at its start), because the service also refuses, before
connecting, a loopback address at the control server's port number.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from benchmarks.api_speed_targets import Target
from benchmarks.engine_run import BATCH_ROWS
from benchmarks.run import ready
from tests.conftest import free_port
from thedata.adapters.postgres import EmbeddedPostgres

FINISHED = ("succeeded", "failed", "cancelled")


@contextlib.contextmanager
def control_database(folder: Path) -> Iterator[str]:
    """An embedded PostgreSQL in ``folder`` on a free port number; its URL."""
    port = str(free_port())
    before = os.environ.get("PGPORT")
    os.environ["PGPORT"] = port  # read by the postmaster pg_ctl starts, and by libpq here
    server = EmbeddedPostgres(folder / "control", database="thedata")
    try:
        url = make_conninfo(server.start(), port=port)
    finally:
        if before is None:
            os.environ.pop("PGPORT")
        else:
            os.environ["PGPORT"] = before
    try:
        yield url
    finally:
        server.stop()


class Service(Target):
    """A ``thedata serve`` process (API and in-process worker) on loopback, and its client."""

    def __init__(self, folder: Path, control_url: str) -> None:
        self.folder = folder
        self.token: str | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
        env |= {
            "THEDATA_HOME": str(folder / "home"),
            "THEDATA_DATABASE_URL": control_url,
            "THEDATA_SECRET_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "THEDATA_DATA_ROOT": str(folder / "data"),
            "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",  # the sources are on 127.0.0.1
            "THEDATA_WORKER_BATCH_ROWS": str(BATCH_ROWS),  # the engine benchmark's
            "THEDATA_LOG_LEVEL": "warning",
        }
        command = [sys.executable, "-m", "thedata.entrypoints.cli", "serve"]
        super().__init__("thedata serve", command, env, folder / "serve.log")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"thedata serve exited at start-up:\n{self.log_tail()}")
            if ready(self.base + "/health/ready"):
                return
            time.sleep(0.05)
        raise SystemExit(f"thedata serve not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; its JSON body. A non-2xx answer ends the benchmark with its problem."""
        headers = {"content-type": "application/json"}
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            self.base + path, data=data if method != "GET" else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - as above
                return json.load(response)
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: {e.code} {e.read().decode()}") from None


def seconds_between(earlier: str, later: str) -> float:
    """Seconds between two of the API's ISO 8601 timestamps."""
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
