"""The performance guard CI can run on a noisy machine: database round trips and Python
calls per request.

Wall-clock figures belong to ``benchmarks/api_speed.py``; what a request asks of
the database, and how many Python functions it enters, do not depend on the machine.
The app's connections go through a counting proxy (``tests/roundtrips.py``) and the
app itself is wrapped in a call counter (``tests/calls.py``); each endpoint is called a
few times to warm up (psycopg prepares a statement on its fifth use), then ``TIMES``
times, and the round trips (Sync and Query messages) and statements parsed again per
request, and the median of its Python calls, must stay within the budgets below: a
change that adds a query, a transaction, a re-parse or a layer of machinery to the hot
path fails here, and its author lowers the budget when it goes the other way.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.calls import CallCounter
from tests.conftest import make_settings
from tests.e2e.api import Client, create_org, folder_sources, register
from tests.e2e.conftest import CHEAP_HASHING
from tests.e2e.test_pipelines import pipeline
from tests.roundtrips import CountingProxy, round_trips
from thedata.entrypoints.container import build_container, configure_logging
from thedata.entrypoints.http import create_app
from thedata.entrypoints.resolve import resolve

WARM_UP, TIMES = 6, 10
LISTED = 20  # pipelines and runs in the organization before the lists are measured
BUDGET = {
    # endpoint: (round trips, statements parsed again, pool checkouts) per request; the
    # use case runs on the connection the caller was read on (adapters/postgres/handoff.py)
    "live": (0, 0, 0),
    "get pipeline": (2, 0, 1),  # the caller, the pipeline
    "list pipelines": (2, 0, 1),
    "create pipeline": (3, 0, 1),  # the caller, both data sources, the insert (one change)
    "get run": (2, 0, 1),
    "list runs": (2, 0, 1),
    "trigger run": (2, 0, 1),  # the caller, the run (one change; its key finds the pipeline)
}
CALLS = {
    # endpoint: Python calls per request (the median), measured when last lowered plus a
    # tenth for what the test client and the event loop add from one version to the next
    "live": 115,  # 112 since every route's guard refuses bodies where none is read
    "get pipeline": 700,
    "list pipelines": 1500,  # of LISTED
    "create pipeline": 1050,
    "get run": 680,
    "list runs": 980,  # of LISTED
    "trigger run": 800,  # 768 reading its (empty) body, 791 timing its statements (slow ones)
}
Measured = tuple[float, float, float, float]  # round trips, parses, checkouts, calls


class Meter:
    """What the app asked of the database (through the proxy and the pool) and of Python."""

    def __init__(self, proxy: CountingProxy, calls: CallCounter, pool: Any) -> None:
        self.proxy, self.calls, self.pool = proxy, calls, pool

    def reading(self) -> tuple[Counter[str], int, int]:
        return self.proxy.counts(), self._checkouts(), len(self.calls.counts)

    def since(self, before: tuple[Counter[str], int, int], requests: int) -> Measured:
        """Per request since ``before``: round trips, parses, checkouts, median calls."""
        counts, checkouts, first = before
        trips, parses = round_trips(counts, self.proxy.counts())
        return (
            trips / requests,
            parses / requests,
            (self._checkouts() - checkouts) / requests,
            statistics.median(self.calls.counts[first:]),
        )

    def _checkouts(self) -> int:
        return int(self.pool.get_stats().get("requests_num", 0))


@pytest.fixture
async def counted(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Client, Meter]]:
    """The whole app, its calls counted and its database reached through a counting proxy."""
    proxy = CountingProxy(database_url)
    proxy.start()
    settings = make_settings(
        database_url=proxy.url, data_root=str(tmp_path / "data"), **CHEAP_HASHING
    )
    container = build_container(settings)
    app = create_app(container)
    app.asgi_handler = calls = CallCounter(app.asgi_handler)
    # logging as in production (JSON access lines at info), whatever earlier tests left set:
    # the calls an access line costs depend on it
    configure_logging(log_format="json", level="info", stream=io.StringIO())
    try:
        async with AsyncTestClient(app) as client:
            yield client, Meter(proxy, calls, await resolve(container.pool))
    finally:
        proxy.stop()
        configure_logging(log_format="console", level="warning")


async def test_the_hot_path_stays_within_its_round_trips_and_calls(
    counted: tuple[Client, Meter], tmp_path: Path
) -> None:
    """Each main endpoint asks no more of the database and runs no more Python than budgeted."""
    client, meter = counted
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = await folder_sources(client, headers, org, tmp_path / "data")
    base = f"/v1/orgs/{org}/pipelines"
    names = iter(range(1_000))
    for _ in range(LISTED):  # lists show as many, each one its own run
        made = await client.post(base, json=pipeline(*ids, name=f"p{next(names)}"), headers=headers)
        first = made.json()["id"]
        run = (await client.post(f"{base}/{first}/runs", headers=headers)).json()["id"]

    async def create() -> Any:
        return await client.post(base, json=pipeline(*ids, name=f"p{next(names)}"), headers=headers)

    async def trigger() -> tuple[Any, Measured]:
        # each on a pipeline of its own: a second trigger of one would be a 409
        target = (await create()).json()["id"]
        before = meter.reading()
        answer = await client.post(f"{base}/{target}/runs", headers=headers)
        return answer, meter.since(before, 1)

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "live": lambda: client.get("/health/live"),
        "get pipeline": lambda: client.get(f"{base}/{first}", headers=headers),
        "list pipelines": lambda: client.get(f"{base}?limit={LISTED}", headers=headers),
        "create pipeline": create,
        "get run": lambda: client.get(f"/v1/orgs/{org}/runs/{run}", headers=headers),
        "list runs": lambda: client.get(f"/v1/orgs/{org}/runs?limit={LISTED}", headers=headers),
    }
    measured = {name: await _per_request(call, meter) for name, call in calls.items()}
    measured["trigger run"] = await _per_trigger(trigger)
    print(f"\nround trips, parses, checkouts, calls per request: {measured}")  # noqa: T201
    budgets = {name: (*BUDGET[name], CALLS[name]) for name in measured}
    over = {
        name: (seen, budgets[name])
        for name, seen in measured.items()
        if any(s > b for s, b in zip(seen, budgets[name], strict=True))
    }
    assert not over, f"over budget (seen, budget): {over}"


async def _per_request(call: Callable[[], Awaitable[Any]], meter: Meter) -> Measured:
    for _ in range(WARM_UP):
        assert (await call()).status_code < 300
    before = meter.reading()
    for _ in range(TIMES):
        assert (await call()).status_code < 300
    return meter.since(before, TIMES)


async def _per_trigger(trigger: Callable[[], Awaitable[tuple[Any, Measured]]]) -> Measured:
    counted = []
    for n in range(WARM_UP + TIMES):
        answer, seen = await trigger()
        assert answer.status_code == 202, answer.text
        if n >= WARM_UP:
            counted.append(seen)
    trips, parses, checkouts, calls = zip(*counted, strict=True)
    return (
        sum(trips) / TIMES,
        sum(parses) / TIMES,
        sum(checkouts) / TIMES,
        statistics.median(calls),
    )
