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

import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.calls import CallCounter
from tests.conftest import make_settings
from tests.e2e.api import Client, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from tests.e2e.test_pipelines import pipeline
from tests.roundtrips import CountingProxy, round_trips
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

WARM_UP, TIMES = 6, 10
LISTED = 20  # pipelines and runs in the organization before the lists are measured
BUDGET = {
    # endpoint: (round trips, statements parsed again) per request
    "live": (0, 0),
    "get pipeline": (2, 0),  # the caller, the pipeline
    "list pipelines": (2, 0),
    "create pipeline": (5, 0),  # the caller; BEGIN, both data sources, insert, COMMIT
    "get run": (2, 0),
    "list runs": (2, 0),
    "trigger run": (4, 0),  # the caller; BEGIN, the run (its key finds the pipeline), COMMIT
}
CALLS = {
    # endpoint: Python calls per request (the median), measured when last lowered plus a
    # tenth for what the test client and the event loop add from one version to the next
    "live": 106,
    "get pipeline": 860,
    "list pipelines": 1770,  # of LISTED
    "create pipeline": 1410,
    "get run": 850,
    "list runs": 1640,  # of LISTED
    "trigger run": 1120,
}
Measured = tuple[float, float, float]  # round trips, parses, calls per request


@pytest.fixture
async def counted(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Client, CountingProxy, CallCounter]]:
    """The whole app, its calls counted and its database reached through a counting proxy."""
    proxy = CountingProxy(database_url)
    proxy.start()
    settings = make_settings(
        database_url=proxy.url, data_root=str(tmp_path / "data"), **CHEAP_HASHING
    )
    app = create_app(build_container(settings))
    app.asgi_handler = calls = CallCounter(app.asgi_handler)
    try:
        async with AsyncTestClient(app) as client:
            yield client, proxy, calls
    finally:
        proxy.stop()


async def test_the_hot_path_stays_within_its_round_trips_and_calls(
    counted: tuple[Client, CountingProxy, CallCounter], tmp_path: Path
) -> None:
    """Each main endpoint asks no more of the database and runs no more Python than budgeted."""
    client, proxy, calls_made = counted
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = []
    for name in ("in", "out"):
        (tmp_path / "data" / org / name).mkdir(parents=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        made = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)
        ids.append(made.json()["id"])
    base = f"/v1/orgs/{org}/pipelines"
    names = iter(range(1_000))
    for _ in range(LISTED):  # lists show as many, each one its own run
        made = await client.post(base, json=pipeline(*ids, name=f"p{next(names)}"), headers=headers)
        first = made.json()["id"]
        run = (await client.post(f"{base}/{first}/runs", headers=headers)).json()["id"]
    targets: list[str] = []

    async def create() -> Any:
        return await client.post(base, json=pipeline(*ids, name=f"p{next(names)}"), headers=headers)

    async def trigger() -> Any:
        # each on a pipeline of its own: a second trigger of one would be a 409
        targets.append((await create()).json()["id"])
        before = proxy.counts()
        answer = await client.post(f"{base}/{targets[-1]}/runs", headers=headers)
        return answer, proxy.counts() - before

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "live": lambda: client.get("/health/live"),
        "get pipeline": lambda: client.get(f"{base}/{first}", headers=headers),
        "list pipelines": lambda: client.get(f"{base}?limit={LISTED}", headers=headers),
        "create pipeline": create,
        "get run": lambda: client.get(f"/v1/orgs/{org}/runs/{run}", headers=headers),
        "list runs": lambda: client.get(f"/v1/orgs/{org}/runs?limit={LISTED}", headers=headers),
    }
    measured = {name: await _per_request(call, proxy, calls_made) for name, call in calls.items()}
    measured["trigger run"] = await _per_trigger(trigger, calls_made)
    print(f"\nround trips, parses, calls per request: {measured}")  # noqa: T201
    over = {
        name: (seen, (*BUDGET[name], CALLS[name]))
        for name, seen in measured.items()
        if seen[0] > BUDGET[name][0] or seen[1] > BUDGET[name][1] or seen[2] > CALLS[name]
    }
    assert not over, f"over budget (seen, budget): {over}"


async def _per_request(
    call: Callable[[], Awaitable[Any]], proxy: CountingProxy, calls: CallCounter
) -> Measured:
    for _ in range(WARM_UP):
        assert (await call()).status_code < 300
    before, first = proxy.counts(), len(calls.counts)
    for _ in range(TIMES):
        assert (await call()).status_code < 300
    trips, parses = round_trips(before, proxy.counts())
    return trips / TIMES, parses / TIMES, statistics.median(calls.counts[first:])


async def _per_trigger(trigger: Callable[[], Awaitable[Any]], calls: CallCounter) -> Measured:
    counted = []
    for n in range(WARM_UP + TIMES):
        answer, delta = await trigger()
        assert answer.status_code == 202, answer.text
        if n >= WARM_UP:
            counted.append((delta["S"] + delta["Q"], delta["P"], calls.counts[-1]))
    return (
        sum(t for t, _, _ in counted) / TIMES,
        sum(p for _, p, _ in counted) / TIMES,
        statistics.median(c for _, _, c in counted),
    )
