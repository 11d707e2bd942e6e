"""``GET /metrics`` after real requests: counted by route template, read by Prometheus' parser."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import register
from tests.e2e.conftest import CHEAP_HASHING
from tests.monitoring_tools import tool
from tests.scraped import scraped, value
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

POOL_MAX = 7


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(
        database_url=database_url,
        db_pool_max_size=POOL_MAX,
        login_attempt_limit=2,
        data_root=str(tmp_path / "data"),
        **CHEAP_HASHING,
    )
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


async def scrape(client: Any) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text, scraped(response.text)


async def test_requests_are_counted_by_route_template_never_by_path(client: Any) -> None:
    _, before = await scrape(client)
    org = uuid.uuid4()
    for _ in range(3):
        assert (await client.get("/health/live")).status_code == 200
    assert (await client.get(f"/v1/orgs/{org}/pipelines")).status_code == 401
    assert (await client.get(f"/no/such/{org}")).status_code == 404
    text, after = await scrape(client)

    def added(method: str, route: str, status_class: str) -> float:
        labels = {"method": method, "route": route, "status_class": status_class}
        name = "thedata_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("GET", "/health/live", "2xx") == 3
    assert added("GET", "/v1/orgs/{org_id}/pipelines", "4xx") == 1
    assert added("GET", "unmatched", "4xx") == 1
    assert added("GET", "/metrics", "2xx") == 1  # the first scrape
    assert str(org) not in text


async def test_the_pool_is_described_at_each_scrape(client: Any) -> None:
    ready = (await client.get("/health/ready")).json()
    _, values = await scrape(client)
    # the readiness verdict of each component: 0 pass, 1 warn, 2 fail
    severity = {"pass": 0, "warn": 1, "fail": 2}
    for component, results in ready["checks"].items():
        worst = max(severity[r["status"]] for r in results)
        assert value(values, "thedata_health_check_status", component=component) == worst
    assert value(values, "thedata_db_pool_max_connections") == POOL_MAX
    in_use = value(values, "thedata_db_pool_connections", state="in_use")
    idle = value(values, "thedata_db_pool_connections", state="idle")
    assert 1 <= in_use + idle <= POOL_MAX
    assert value(values, "thedata_db_pool_acquires_total") >= 1


async def test_sign_in_failures_and_rate_limit_hits_are_counted_by_code(client: Any) -> None:
    await register(client, "ada@x.io")
    _, before = await scrape(client)
    wrong = {"email": "ada@x.io", "password": "not the password"}
    statuses = [(await client.post("/v1/auth/token", json=wrong)).status_code for _ in range(3)]
    _, after = await scrape(client)
    assert statuses == [401, 401, 429]

    def added(name: str, code: str) -> float:
        return value(after, name, code=code) - value(before, name, code=code)

    assert added("thedata_authentication_failures_total", "invalid_credentials") == 2
    assert added("thedata_rate_limited_requests_total", "too_many_login_attempts") == 1


async def test_promtool_finds_nothing_to_fix_in_a_scrape(client: Any) -> None:
    """Names, units, types and help as Prometheus' own linter wants them."""
    await client.get("/health/live")
    await client.get("/nowhere")
    text, _ = await scrape(client)
    checked = subprocess.run(  # noqa: ASYNC221 - a test's short wait, nothing else runs
        [tool("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == ""
    assert checked.stderr.strip() == ""


async def test_with_metrics_off_nothing_is_served_and_requests_are_not_counted(
    database_url: str, client: Any
) -> None:
    """THEDATA_METRICS=false: no /metrics route (404), and the off app's requests are not
    counted (read from the registry this process shares with an app that counts)."""
    settings = make_settings(database_url=database_url, metrics=False)
    async with AsyncTestClient(create_app(build_container(settings))) as off:
        _, before = await scrape(client)
        for _ in range(5):
            assert (await off.get("/health/live")).status_code == 200
        assert (await off.get("/metrics")).status_code == 404
        _, after = await scrape(client)
    labels = {"method": "GET", "route": "/health/live", "status_class": "2xx"}
    name = "thedata_http_requests_total"
    assert value(after, name, **labels) == value(before, name, **labels)
    unmatched = {"method": "GET", "route": "unmatched", "status_class": "4xx"}
    assert value(after, name, **unmatched) == value(before, name, **unmatched)
