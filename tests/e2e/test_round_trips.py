"""The performance guard CI can run on a noisy machine: database round trips per request.

Wall-clock figures belong to ``benchmarks/api_speed.py``; what a request asks of
the database does not depend on the machine. The app's connections go through a
counting proxy (``tests/roundtrips.py``); each endpoint is called a few times to
warm up (psycopg prepares a statement on its fifth use), then ``TIMES`` times, and
the round trips (Sync and Query messages) and statements parsed again per request
must stay within the budget below: a change that adds a query, a transaction or a
re-parse to the hot path fails here, and its author lowers the budget when it
goes the other way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import Client, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from tests.e2e.test_pipelines import pipeline
from tests.roundtrips import CountingProxy, round_trips
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

WARM_UP, TIMES = 6, 10
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


@pytest.fixture
async def counted(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Client, CountingProxy]]:
    """The whole app, its database reached through a counting proxy."""
    proxy = CountingProxy(database_url)
    proxy.start()
    settings = make_settings(
        database_url=proxy.url, data_root=str(tmp_path / "data"), **CHEAP_HASHING
    )
    try:
        async with AsyncTestClient(create_app(build_container(settings))) as client:
            yield client, proxy
    finally:
        proxy.stop()


async def test_the_hot_path_stays_within_its_round_trips(
    counted: tuple[Client, CountingProxy], tmp_path: Path
) -> None:
    client, proxy = counted
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = []
    for name in ("in", "out"):
        (tmp_path / "data" / org / name).mkdir(parents=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        made = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)
        ids.append(made.json()["id"])
    base = f"/v1/orgs/{org}/pipelines"
    first = (await client.post(base, json=pipeline(*ids), headers=headers)).json()["id"]
    run = (await client.post(f"{base}/{first}/runs", headers=headers)).json()["id"]
    names = iter(range(1_000))
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
        "list pipelines": lambda: client.get(f"{base}?limit=50", headers=headers),
        "create pipeline": create,
        "get run": lambda: client.get(f"/v1/orgs/{org}/runs/{run}", headers=headers),
        "list runs": lambda: client.get(f"/v1/orgs/{org}/runs?limit=50", headers=headers),
    }
    measured = {name: await _per_request(call, proxy) for name, call in calls.items()}
    measured["trigger run"] = await _per_trigger(trigger)
    print(f"\nround trips, parses per request: {measured}")  # noqa: T201
    over = {
        name: (seen, BUDGET[name])
        for name, seen in measured.items()
        if seen[0] > BUDGET[name][0] or seen[1] > BUDGET[name][1]
    }
    assert not over, f"over budget (seen, budget): {over}"


async def _per_request(
    call: Callable[[], Awaitable[Any]], proxy: CountingProxy
) -> tuple[float, float]:
    for _ in range(WARM_UP):
        assert (await call()).status_code < 300
    before = proxy.counts()
    for _ in range(TIMES):
        assert (await call()).status_code < 300
    trips, parses = round_trips(before, proxy.counts())
    return trips / TIMES, parses / TIMES


async def _per_trigger(trigger: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    counted = []
    for n in range(WARM_UP + TIMES):
        answer, delta = await trigger()
        assert answer.status_code == 202, answer.text
        if n >= WARM_UP:
            counted.append((delta["S"] + delta["Q"], delta["P"]))
    return sum(t for t, _ in counted) / TIMES, sum(p for _, p in counted) / TIMES
