"""The operators' run commands as a recovery drill, with real processes: runs that no worker
moves (a worker that died with a run, a queue nobody claims from) are listed by
``thedata runs list --stuck`` with the reason, a failed or cancelled run is queued again by
``thedata runs retry``, and starting a worker (the procedure of docs/recovery.md) ends every
one of them, with the destination equal to the source.

The oracles are plain SQL on the run rows and the destination's files, read apart from the
code under test."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from tests.integration.test_cli import run
from tests.integration.test_run_pipeline_folders import csv_folders, organization
from tests.integration.test_worker_faults import (
    WorkerProcess,
    control_settings,
    worker_variables,
    workers,
)
from thedata.application.use_cases import NewPipeline
from thedata.domain.pipelines import Stream, StreamMode
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["workers"]  # the fixture

ORDERS = "id,name\n1,apples\n2,pears\n3,plums\n"


def sql(url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


async def four_pipelines(url: str, data: Path) -> tuple[list[UUID], list[UUID]]:
    """Four pipelines of one organization (a CSV folder to another), a run of each queued;
    their ids and the runs' ids."""
    async with started(build_container(control_settings(url, data))) as container:
        principal, org = await organization(container)
        source, destination = await csv_folders(container, principal, org, data, ORDERS)
        create_pipeline = await resolve(container.create_pipeline)
        trigger = await resolve(container.trigger_run)
        pipelines, runs = [], []
        for n in range(4):
            stream = Stream("orders", f"orders_{n}", StreamMode.FULL_REFRESH)
            made = await create_pipeline(
                principal, org, NewPipeline(f"p{n}", source, destination, [stream])
            )
            pipelines.append(made.id)
            runs.append((await trigger(principal, org, made.id)).id)
        cancel = await resolve(container.cancel_run)
        await cancel(principal, org, runs[2])
        return pipelines, runs


def seconds_in(reason: str, form: str) -> int:
    """The number of seconds ``reason`` gives where ``form`` has ``{}``."""
    before, after = form.split("{}")
    found = re.match(re.escape(before) + r"(\d+)" + re.escape(after), reason)
    assert found, reason
    return int(found.group(1))


def listed(variables: dict[str, str], folder: Path, *args: str) -> list[dict[str, Any]]:
    done = run(["runs", "list", "--json", *args], folder, **variables)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def wait_until(check: Callable[[], bool], within: float = 90) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.5)


async def test_stuck_runs_are_listed_retried_and_ended_by_a_worker(
    migrated_database_url: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """The drill of docs/recovery.md's "Stuck runs" and "Lost workers"."""
    url = migrated_database_url
    variables = worker_variables(url, tmp_path)
    data = Path(variables["THEDATA_DATA_ROOT"])
    pipelines, runs = await four_pipelines(url, data)
    died_with_a_run, never_claimed, cancelled, just_queued = runs
    # a worker that died five minutes ago holding run 0, and run 1 queued ten minutes ago,
    # with no worker since: what a lost host leaves behind
    sql(
        url,
        "UPDATE runs SET status = 'running', attempt = 1, worker_id = 'lost-host:4211:0c1d2e',"
        " started_at = now() - interval '6 minutes', epoch = 1,"
        " lease_expires_at = now() - interval '5 minutes' WHERE id = %s",
        died_with_a_run,
    )
    sql(
        url,
        "UPDATE runs SET queued_at = now() - interval '10 minutes' WHERE id = %s",
        never_claimed,
    )

    everything = listed(variables, tmp_path)
    assert {r["id"] for r in everything} == {
        str(r) for r in (died_with_a_run, never_claimed, just_queued)
    }
    stuck = {r["id"]: r["stuck"] for r in listed(variables, tmp_path, "--stuck")}
    assert stuck.keys() == {str(died_with_a_run), str(never_claimed)}
    assert seconds_in(stuck[str(died_with_a_run)], "its lease ended {} s ago") >= 300
    assert seconds_in(stuck[str(never_claimed)], "claimable for {} s") >= 600
    table = run(["runs", "list", "--stuck"], tmp_path, **variables).stdout
    assert table.splitlines()[0].split() == [
        "RUN", "ORGANIZATION", "PIPELINE", "STATUS", "ATTEMPT", "QUEUED", "WORKER", "STUCK"
    ]  # fmt: skip
    assert "lost-host:4211:0c1d2e" in table

    # retry: a cancelled run is queued again as a new run; others are refused, saying why
    retried = run(["runs", "retry", str(cancelled)], tmp_path, **variables)
    assert retried.returncode == 0, retried.stderr
    assert f"(a retry of {cancelled})" in retried.stdout
    again = sql(
        url,
        "SELECT id, status, trigger FROM runs WHERE pipeline_id = %s AND id <> %s",
        pipelines[2],
        cancelled,
    )
    assert [(row[1], row[2]) for row in again] == [("queued", "retry")]
    assert str(again[0][0]) in retried.stdout
    for run_id, why in (
        (died_with_a_run, "is running"),
        (uuid4(), "not found"),
        (cancelled, "has a queued or running run"),  # its retry is queued
    ):
        refused = run(["runs", "retry", str(run_id)], tmp_path, **variables)
        assert refused.returncode == 1
        assert why in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    # the procedure: start a worker; it takes back the dead worker's run and claims the rest
    workers.append(WorkerProcess(variables, tmp_path, "recovery"))

    def all_succeeded() -> bool:
        statuses = sql(
            url,
            "SELECT status FROM runs WHERE id = ANY(%s) OR trigger = 'retry'",
            [died_with_a_run, never_claimed, just_queued],
        )
        return [s for (s,) in statuses] == ["succeeded"] * 4

    wait_until(all_succeeded)
    assert listed(variables, tmp_path, "--stuck") == []
    assert (
        run(["runs", "list", "--stuck"], tmp_path, **variables).stdout.strip() == "no run is stuck"
    )
    org = sql(url, "SELECT organization_id FROM runs WHERE id = %s", cancelled)[0][0]
    for n in range(4):
        published = sorted((data / str(org) / "out" / f"orders_{n}").glob("*.csv"))
        assert [p.read_text() for p in published] == [ORDERS]


def test_operator_commands_on_a_database_never_migrated_say_so_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    """Against the wrong database, or before `thedata migrate`: exit 1, one line saying what
    to do, no traceback."""
    variables = worker_variables(database_url, tmp_path, THEDATA_LOG_LEVEL="warning")
    for command in (["runs", "list", "--stuck"], ["runs", "retry", str(uuid4())], ["workers"]):
        done = run(command, tmp_path, **variables)
        assert done.returncode == 1, command
        assert done.stderr.strip().splitlines() == [
            "thedata: the database's schema is behind this version: run `thedata migrate`"
        ], command
