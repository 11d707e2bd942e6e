"""``…/pipelines/{id}/runs`` and ``…/runs`` through HTTP (no worker runs them here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from tests.conftest import make_settings
from tests.e2e.api import Client, add_member, create_org, problem_type, register
from tests.e2e.test_pipelines import pipeline
from tests.scraped import scraped, value
from thedata.domain.runs import RunError, StreamStats
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve


@pytest.fixture
async def setup(client: Client, tmp_path: Path) -> tuple[dict[str, str], str, str]:
    """A user's headers, their organization and a pipeline between two folders."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = []
    for name in ("in", "out"):
        (tmp_path / "data" / org / name).mkdir(parents=True, exist_ok=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        created = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    made = await client.post(
        f"/v1/orgs/{org}/pipelines", json=pipeline(ids[0], ids[1]), headers=headers
    )
    assert made.status_code == 201, made.text
    return headers, org, made.json()["id"]


async def test_a_trigger_is_202_once_and_409_while_the_run_is_active(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    headers, org, pipeline_id = setup
    runs = f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs"
    triggered = await client.post(runs, headers=headers)
    assert triggered.status_code == 202, triggered.text
    run = triggered.json()
    assert run["status"] == "queued"
    assert run["trigger"] == "manual"
    assert run["pipeline_id"] == pipeline_id
    assert run["attempt"] == 0
    assert run["stats"] == {"rows_read": 0, "rows_written": 0, "streams": {}}
    assert run["error"] is None
    assert run["attempts"] == []
    second = await client.post(runs, headers=headers)
    assert second.status_code == 409
    assert problem_type(second).endswith("run-already-active")
    got = await client.get(f"/v1/orgs/{org}/runs/{run['id']}", headers=headers)
    assert got.json() == run
    listed = await client.get(runs, headers=headers)
    assert [r["id"] for r in listed.json()["items"]] == [run["id"]]


async def test_fifty_triggers_at_once_queue_one_run(
    client: Client, setup: tuple[dict[str, str], str, str], database_url: str
) -> None:
    """Business-flow abuse (OWASP API6): a client firing 50 triggers at once gets one run;
    the other 49 are told one is active, and the database holds a single run."""
    headers, org, pipeline_id = setup
    runs = f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs"
    answers = await asyncio.gather(*(client.post(runs, headers=headers) for _ in range(50)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [409] * 49
    with psycopg.connect(database_url) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM runs WHERE pipeline_id = %s", (pipeline_id,)
        ).fetchone() or (0,)
    assert count == 1


async def test_a_trigger_with_an_idempotency_key_is_answered_once(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    headers, org, pipeline_id = setup
    runs = f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs"
    keyed = headers | {"Idempotency-Key": "trigger-1"}
    first = await client.post(runs, headers=keyed)
    again = await client.post(runs, headers=keyed)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()


async def test_cancel_is_202_then_409_and_the_status_filter_is_checked(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    headers, org, pipeline_id = setup
    runs = f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs"
    run = (await client.post(runs, headers=headers)).json()
    cancel = f"/v1/orgs/{org}/runs/{run['id']}/cancel"
    ended = ("thedata_runs_finished_total", "cancelled")
    before = value(scraped(), ended[0], status=ended[1], trigger="manual")
    cancelled = await client.post(cancel, headers=headers)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    # a queued run ends at its cancel: counted as finished then (no attempt will end it)
    assert value(scraped(), ended[0], status=ended[1], trigger="manual") == before + 1
    assert cancelled.json()["finished_at"] is not None
    again = await client.post(cancel, headers=headers)
    assert again.status_code == 409
    assert problem_type(again).endswith("run-finished")
    only = await client.get(f"/v1/orgs/{org}/runs?status=cancelled", headers=headers)
    assert [r["id"] for r in only.json()["items"]] == [run["id"]]
    none = await client.get(f"/v1/orgs/{org}/runs?status=queued", headers=headers)
    assert none.json()["items"] == []
    bad = await client.get(f"/v1/orgs/{org}/runs?status=exploded", headers=headers)
    assert bad.status_code == 400


async def test_viewers_read_runs_but_get_403_on_trigger_and_cancel(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    headers, org, pipeline_id = setup
    runs = f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs"
    run = (await client.post(runs, headers=headers)).json()
    viewer, _ = await add_member(client, headers, org, "vi@x.io", "viewer")
    assert (await client.get(f"/v1/orgs/{org}/runs/{run['id']}", headers=viewer)).status_code == 200
    refused = await client.post(runs, headers=viewer)
    assert refused.status_code == 403
    cancel = await client.post(f"/v1/orgs/{org}/runs/{run['id']}/cancel", headers=viewer)
    assert cancel.status_code == 403


async def test_an_unknown_run_or_pipeline_is_404(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    headers, org, _ = setup
    missing = "01900000-0000-7000-8000-000000000000"
    assert (await client.get(f"/v1/orgs/{org}/runs/{missing}", headers=headers)).status_code == 404
    trigger = await client.post(f"/v1/orgs/{org}/pipelines/{missing}/runs", headers=headers)
    assert trigger.status_code == 404


async def test_a_run_shows_each_ended_attempt_with_its_figures_and_no_worker_name(
    client: Client, setup: tuple[dict[str, str], str, str], database_url: str
) -> None:
    """A worker (here the queue, driven by hand) takes the run, moves 7 rows and fails
    retryably: the run is queued again, and its history says so through HTTP."""
    headers, org, pipeline_id = setup
    run = (
        await client.post(f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs", headers=headers)
    ).json()
    async with started(build_container(make_settings(database_url=database_url))) as worker_side:
        queue = await resolve(worker_side.run_queue)
        claimed = await queue.claim("host-secret:4242:abc")
        assert claimed is not None
        moved = claimed.progressed("orders", StreamStats(7, 7, 100))
        error = RunError("stream_failed", "the source went away", retryable=True)
        assert await queue.fail(moved, error) is not None
    shown = await client.get(f"/v1/orgs/{org}/runs/{run['id']}", headers=headers)
    body = shown.json()
    assert (body["status"], body["attempt"]) == ("queued", 1)
    (attempt,) = body["attempts"]
    assert body["stats"] == attempt["stats"]  # the last attempt's, until the next one starts
    assert attempt["number"] == 1
    assert attempt["outcome"] == "failed"
    assert attempt["error"] == {
        "type": "stream_failed",
        "message": "the source went away",
        "retryable": True,
    }
    assert attempt["stats"]["streams"]["orders"] == {
        "rows_read": 7,
        "rows_written": 7,
        "estimate": 100,
    }
    assert attempt["started_at"] <= attempt["ended_at"]
    assert "host-secret" not in shown.text  # the infrastructure stays the operator's


async def test_another_organizations_pipeline_is_404_to_a_trigger_even_when_busy(
    client: Client, setup: tuple[dict[str, str], str, str]
) -> None:
    """Eve triggers, in her own organization's path, the id of Ada's pipeline while it has
    an active run: 404, as for any id she has no pipeline of (a 409 would tell her that
    Ada's pipeline exists and is busy)."""
    headers, org, pipeline_id = setup
    busy = await client.post(f"/v1/orgs/{org}/pipelines/{pipeline_id}/runs", headers=headers)
    assert busy.status_code == 202
    eve, _ = await register(client, "eve@x.io")
    eves = await create_org(client, eve, "Eve's")
    probe = await client.post(f"/v1/orgs/{eves}/pipelines/{pipeline_id}/runs", headers=eve)
    assert probe.status_code == 404, probe.text
    assert problem_type(probe).endswith("pipeline-not-found")
