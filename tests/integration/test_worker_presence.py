"""Workers seen by operators: ``thedata workers`` lists each live ``thedata worker`` process
with its host and pid; one stopped with SIGTERM leaves the list, one killed stays listed (and
shows silent once it has not been heard of for 30 s)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.integration.test_cli import run
from tests.integration.test_worker_faults import WorkerProcess, worker_variables, workers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["workers"]  # the fixture


def listed(variables: dict[str, str], folder: Path) -> dict[int, str]:
    """``thedata workers``'s rows by pid: the whole line."""
    done = run(["workers"], folder, **variables)
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines()[1:]:
        cells = line.split()
        rows[int(cells[2])] = line
    return rows


def wait_listed(variables: dict[str, str], folder: Path, pid: int) -> str:
    deadline = time.monotonic() + 30
    while pid not in (rows := listed(variables, folder)):
        assert time.monotonic() < deadline, f"worker {pid} never listed: {rows}"
        time.sleep(0.5)
    return rows[pid]


def test_thedata_workers_lists_live_workers_and_drops_stopped_ones(
    migrated_database_url: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    variables = worker_variables(migrated_database_url, tmp_path)
    assert run(["workers"], tmp_path, **variables).stdout.startswith("no worker has been seen")
    stopped = WorkerProcess(variables, tmp_path, "stopped")
    killed = WorkerProcess(variables, tmp_path, "killed")
    workers.extend([stopped, killed])
    for worker in (stopped, killed):
        line = wait_listed(variables, tmp_path, worker.pid)
        assert socket.gethostname() in line
        assert line.endswith("live")
        assert " 0/1 " in line  # holds no run, may hold one
    assert stopped.stop() == 0
    os.kill(killed.pid, signal.SIGKILL)
    killed.process.wait()
    rows = listed(variables, tmp_path)
    assert stopped.pid not in rows  # said it was gone
    assert killed.pid in rows  # could not: shown until silent, then forgotten
