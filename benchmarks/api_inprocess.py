"""The app's own cost per request, without HTTP, load tool or other processes in the way.

``python -m benchmarks.api_inprocess [--endpoints live,"get run"] [--requests 2000]
[--rounds 3]`` copies the seeded database of ``benchmarks.api_speed`` (seeding it
first if needed), builds the service's app and the lean app in this process, and
hands each the same requests straight through ASGI, one at a time: no server, no
sockets, no concurrency. Per endpoint it gives the process's CPU µs per request
for each app (medians of rounds that alternate which app goes first) and their
ratio. Both apps' database work still goes to PostgreSQL, so psycopg's share is
in the figures; uvicorn's and the kernel's share of HTTP is not. Its figures move
by a few per cent from run to run where wrk's move by ten or more: the tool for
weighing one change to the hot path, where ``api_speed`` is the yardstick.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop
from psycopg_pool import AsyncConnectionPool

import benchmarks.lean_app as lean_app
from benchmarks.api_speed_seed import PREFIX, copy_of, drop, ensure_template
from benchmarks.api_speed_workload import ENDPOINTS, load, request_lines
from benchmarks.engine import DEFAULT_URL
from tests.conftest import TEST_SECRET_KEYS
from thedata.adapters.observability import configure_logging
from thedata.entrypoints.config import load_settings
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.heap import settle_heap
from thedata.entrypoints.http import create_app

ASGIApp = Any
WARM_UP = 50


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # writes are left out: one at a time, creates need fresh names and triggers idle pipelines
    reads = (e for e in ENDPOINTS if not e.startswith(("create", "trigger")))
    parser.add_argument("--endpoints", default=",".join(reads))
    parser.add_argument("--requests", type=int, default=2000, help="per app, endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def _scope(line: str) -> tuple[dict[str, Any], bytes]:
    """An HTTP scope and body from one of ``request_lines``' tab-separated lines."""
    method, target, token, body = line.split("\t", 3)
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    return scope, body.encode()


async def _request(app: ASGIApp, line: str, statuses: Counter[int]) -> None:
    scope, body = _scope(line)
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] += 1

    await app(scope, receive, send)


async def _cpu_per_request(
    app: ASGIApp, lines: list[str], requests: int
) -> tuple[float, Counter[int]]:
    statuses: Counter[int] = Counter()
    for n in range(WARM_UP):
        await _request(app, lines[n % len(lines)], statuses)
    statuses.clear()
    started_at = time.process_time()
    for n in range(requests):
        await _request(app, lines[(WARM_UP + n) % len(lines)], statuses)
    return (time.process_time() - started_at) / requests * 1e6, statuses


async def _started(app: ASGIApp) -> None:
    """Run the app's lifespan start-up (its end is left to the process's)."""
    messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    ready = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        ready.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    asyncio.get_running_loop().create_task(app(scope, messages.get, send))
    await ready.wait()


async def _measure(url: str, lines: dict[str, list[str]], args: argparse.Namespace) -> None:
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=10,
        open=False,
        configure=lean_app._configure,
        kwargs={"autocommit": True},
    )
    await pool.open(wait=True)
    try:
        async with started(build_container(load_settings())) as container:
            apps = {"service": create_app(container, open_resources=False)}
            apps["lean"] = lean_app.create_app(pool)
            for app in apps.values():
                await _started(app)
            settle_heap()  # as thedata serve does
            for endpoint in args.endpoints.split(","):
                cpu: dict[str, list[float]] = {name: [] for name in apps}
                statuses: dict[str, Counter[int]] = {}
                for round_ in range(args.rounds):
                    order = list(apps) if round_ % 2 == 0 else list(reversed(apps))
                    for name in order:
                        spent, statuses[name] = await _cpu_per_request(
                            apps[name], lines[endpoint], args.requests
                        )
                        cpu[name].append(spent)
                service, lean = (statistics.median(cpu[name]) for name in ("service", "lean"))
                print(
                    f"{endpoint:16s} service {service:8.1f} µs  lean {lean:8.1f} µs"
                    f"  lean/service {lean / service:.2f}  statuses {dict(statuses['service'])}"
                    f" / {dict(statuses['lean'])}",
                    flush=True,
                )
    finally:
        await pool.close()


def main() -> None:
    args = _arguments()
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    folder = Path(tempfile.mkdtemp(prefix="thedata_bench_inprocess_"))
    template, _ = ensure_template(server, folder / "seed-data")
    name = f"{PREFIX}inprocess_{os.getpid()}"
    url, _ = copy_of(server, template, name)
    try:
        lines = request_lines(load(url, folder / "data"))
        # production's log format, into nothing: its cost is counted, not its disk
        devnull = Path(os.devnull).open("w")  # noqa: SIM115 - for the whole run
        configure_logging(log_format="json", level="info", stream=devnull)
        os.environ.update(
            THEDATA_DATABASE_URL=url,
            THEDATA_SECRET_KEYS=TEST_SECRET_KEYS,
            THEDATA_HOME=str(folder / "home"),
            THEDATA_DATA_ROOT=str(folder / "data"),
        )
        uvloop.run(_measure(url, lines, args))
    finally:
        drop(server, name)


if __name__ == "__main__":
    main()
