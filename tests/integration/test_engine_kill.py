"""Workers killed for real (SIGKILL) in the middle of a stream: the next attempt finishes it
with no row lost and none duplicated.

Each worker is a separate process moving a stream in small batches; it is
killed at once after the Nth batch it reports, so the kill lands wherever it
is then (in a COPY, between the rows and their position, in a commit). The
oracle is the source table, read independently.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import tcp_endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).parents[2]


@pytest.fixture
def databases(source_server_url: str) -> Iterator[tuple[str, str]]:
    names = [f"thedata_kill_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("src", "dst")]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = [make_conninfo(source_server_url, dbname=name) for name in names]
    with psycopg.connect(urls[0], autocommit=True) as connection:
        connection.execute("CREATE TABLE events (seq bigint NOT NULL, body text)")
        connection.execute(
            "INSERT INTO events SELECT n / 3, repeat('e', 200) || n FROM generate_series(1, 6000) n"
        )
        connection.execute(
            "CREATE TABLE orders (id bigint PRIMARY KEY, updated bigint NOT NULL, body text)"
        )
        connection.execute(
            "INSERT INTO orders SELECT n, n / 4, repeat('o', 200) FROM generate_series(1, 6000) n"
        )
    yield urls[0], urls[1]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def worker(settings: dict[str, Any]) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine_worker", json.dumps(settings)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_and_kill(settings: dict[str, Any], after_batches: int | None) -> str:
    """Run a worker; SIGKILL it right after its ``after_batches``-th batch (or let it finish)."""
    process = worker(settings)
    assert process.stdout is not None
    seen, last = 0, ""
    for line in process.stdout:
        last = line.strip()
        if last.startswith("batch"):
            seen += 1
            if after_batches is not None and seen == after_batches:
                os.kill(process.pid, signal.SIGKILL)
                break
    process.wait(timeout=60)
    return last


def rows(url: str, query: str | sql.Composed) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


@pytest.mark.parametrize("stream", ["events", "orders", "refresh"])
def test_workers_killed_mid_stream_lose_and_duplicate_nothing(
    databases: tuple[str, str], stream: str
) -> None:
    """Three workers killed after 1, 3 and 5 batches, then one that finishes: equal to the
    source (the append stream holds each source row exactly once)."""
    source_url, destination_url = databases
    with (
        tcp_endpoint(source_url) as (host, port, source_db, user),
        tcp_endpoint(destination_url) as (dest_host, dest_port, dest_db, _),
    ):
        settings = {
            "source": {"host": host, "port": port, "database": source_db, "user": user},
            "destination": {
                "host": dest_host,
                "port": dest_port,
                "database": dest_db,
                "user": user,
            },
            "stream": stream,
            "batch_rows": 400,
        }
        for epoch, kill_after in enumerate((1, 3, 5), start=1):
            run_and_kill(settings | {"epoch": epoch}, kill_after)
        assert run_and_kill(settings | {"epoch": 4}, None) == "done"
    if stream == "events":
        query = sql.SQL("SELECT seq, body FROM {} ORDER BY seq, body")
        assert rows(destination_url, query.format(sql.Identifier("events_log"))) == rows(
            source_url, query.format(sql.Identifier("events"))
        )
    else:
        table = sql.Identifier("orders_copy" if stream == "orders" else "orders_refreshed")
        copied = sql.SQL("SELECT * FROM {} ORDER BY id").format(table)
        assert rows(destination_url, copied) == rows(source_url, "SELECT * FROM orders ORDER BY id")
