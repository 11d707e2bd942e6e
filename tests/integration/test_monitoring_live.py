"""A real Prometheus, with our rules, scraping a real ``thedata serve`` and ``thedata worker``
while a small workload runs (sign-ups, a data source that fails until its breaker opens,
a run that succeeds): every dashboard panel's query runs without error, the core panels
have data, and the breaker's alert goes pending in that Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.integration.test_cli import THEDATA, clean_env, stop, wait_ready
from tests.monitoring_tools import tool

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
# panels that must show data after the workload (the others may rightly be empty: no
# retry, no decrypt failure, no recovery happened)
CORE_PANELS = {
    "Requests by route",
    "Readiness by component (0 pass, 1 warn, 2 fail)",
    "Refused credentials and rate-limit hits",
    "API processes up",
    "Version",
    "Runs queued",
    "Runs queued and finished",
    "Attempts started and ended",
    "Rows written by connector kinds",
    "Bytes written by connector kinds",
    "Connections by state",
    "Connections taken",
    "Open breakers by kind",
    "Breaker changes",
}


def until(found: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = found()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {within:g} s"
        time.sleep(0.5)


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The API (with its in-process worker), a second worker and Prometheus scraping both:
    the API's base URL and Prometheus'."""
    data = tmp_path / "data"
    data.mkdir()
    common = {
        "THEDATA_DATABASE_URL": database_url,
        "THEDATA_DATA_ROOT": str(data),
        "THEDATA_LOG_FORMAT": "json",
        "THEDATA_PASSWORD_HASH_MEMORY_KIB": "8",
        "THEDATA_PASSWORD_HASH_ITERATIONS": "1",
        # the failing data source is a closed port on this machine
        "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",
    }
    api_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
    api = subprocess.Popen(
        [*THEDATA, "serve", "--port", str(api_port)],
        cwd=tmp_path,
        env=clean_env(THEDATA_HOME=str(tmp_path / "api"), **common),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = subprocess.Popen(
        [*THEDATA, "worker"],
        cwd=tmp_path,
        env=clean_env(
            THEDATA_HOME=str(tmp_path / "worker"),
            THEDATA_WORKER_METRICS_PORT=str(worker_port),
            **common,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config.pop("alerting")
    config["rule_files"] = []
    for name in ("recording.yml", "alerts.yml"):
        # the groups evaluated every second, as the scrapes come, not every 30 s
        rules = yaml.safe_load((MONITORING / "prometheus" / "rules" / name).read_text())
        for group in rules["groups"]:
            group.pop("interval", None)
        (tmp_path / name).write_text(yaml.safe_dump(rules))
        config["rule_files"].append(str(tmp_path / name))
    targets = {"thedata-api": api_port, "thedata-worker": worker_port}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{targets[job['job_name']]}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, prometheus_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prometheus_port}"
    try:
        wait_ready(base, api)
        until(lambda: _get(f"{prometheus_base}/-/ready") == 200, 30, "Prometheus did not start")
        yield base, prometheus_base
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        stop(worker)
        stop(api)


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def workload(base: str, data: Path) -> None:
    """Sign-ups, a wrong sign-in, data sources that fail until their breakers open, and a
    pipeline run between two folders that succeeds."""
    with httpx.Client(base_url=base, timeout=30) as api:
        tokens = []
        for n in range(3):
            account = {"email": f"u{n}@x.io", "password": "a long enough password", "name": "U"}
            registered = api.post("/v1/auth/register", json=account)
            assert registered.status_code == 201, registered.text
            tokens.append(registered.json()["access_token"])
        wrong = api.post("/v1/auth/token", json={"email": "u0@x.io", "password": "nope-nope-nope"})
        assert wrong.status_code == 401
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        org = api.post("/v1/orgs", json={"name": "Acme"}, headers=headers).json()["id"]
        # three dead sources of one kind: the alert's threshold (one is a tenant's own affair)
        for n in range(3):
            dead = {"host": "127.0.0.1", "port": free_port(), "database": "x", "user": "x"}
            source = api.post(
                f"/v1/orgs/{org}/data-sources",
                json={"name": f"dead-{n}", "kind": "postgres", "config": dead},
                headers=headers,
            )
            assert source.status_code == 201, source.text
            check = f"/v1/orgs/{org}/data-sources/{source.json()['id']}/check"
            for _ in range(6):
                api.post(check, headers=headers)
        ids = []
        for name in ("in", "out"):
            (data / org / name).mkdir(parents=True)
            folder = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
            made = api.post(f"/v1/orgs/{org}/data-sources", json=folder, headers=headers)
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
        (data / org / "in" / "orders.csv").write_text("id,item\n1,pen\n2,ink\n")
        stream = {"name": "orders", "destination": "orders", "mode": "full_refresh"}
        pipeline = api.post(
            f"/v1/orgs/{org}/pipelines",
            json={
                "name": "copy",
                "source_id": ids[0],
                "destination_id": ids[1],
                "streams": [stream],
            },
            headers=headers,
        )
        assert pipeline.status_code == 201, pipeline.text
        runs = f"/v1/orgs/{org}/pipelines/{pipeline.json()['id']}/runs"
        run = api.post(runs, headers=headers).json()
        until(
            lambda: (
                api.get(f"/v1/orgs/{org}/runs/{run['id']}", headers=headers).json()["status"]
                == "succeeded"
            ),
            60,
            "the run did not succeed",
        )


def query(prometheus: str, expr: str) -> list[Any]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[Any] = answer["data"]["result"]
    return result


def panels() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            if panel.get("type") != "row":
                found.append((panel["title"], [t["expr"] for t in panel["targets"]]))
    return found


def test_the_dashboards_and_an_alert_work_against_a_real_prometheus(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    base, prometheus = stack
    workload(base, tmp_path / "data")
    # the worker reports the queue every 5 s and Prometheus scrapes every second
    until(lambda: query(prometheus, "thedata_run_queue_depth"), 30, "no worker reported")
    # a rate needs two scrapes of a series, and a recording rule one evaluation after them
    until(
        lambda: query(prometheus, 'rate(thedata_runs_finished_total{status="succeeded"}[5m])'),
        30,
        "the run's end was not scraped twice",
    )
    until(lambda: query(prometheus, "thedata:http_requests:rate5m"), 30, "no request rate")
    empty = []
    for title, exprs in panels():
        results = [query(prometheus, expr) for expr in exprs]
        if not any(results):
            empty.append(title)
    assert CORE_PANELS.isdisjoint(empty), f"core panels without data: {set(empty) & CORE_PANELS}"
    assert {title for title, _ in panels()} >= CORE_PANELS

    def breaker_alert() -> list[Any]:
        answer = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()
        return [
            a
            for a in answer["data"]["alerts"]
            if a["labels"]["alertname"] == "CircuitBreakerOpen"
            and a["labels"]["kind"] == "postgres"
        ]

    (alert,) = until(breaker_alert, 30, "the breaker's alert never went pending")
    # two workers report (the API's own and thedata worker): the page for none stays quiet
    active = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    assert "NoLiveWorker" not in {a["labels"]["alertname"] for a in active}
    assert alert["state"] in {"pending", "firing"}
    assert alert["annotations"]["runbook_url"] == "docs/runbooks/circuit-breaker-open.md"
