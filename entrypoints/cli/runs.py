"""``thedata runs list [--stuck]`` and ``thedata runs retry ID``: the run queue, for operators.

They see every organization's runs (an operator runs them with the service's own
configuration) and change nothing by hand: they call the same use cases as the service.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC
from typing import Any
from uuid import UUID

from thedata.application.use_cases import ActiveRun, ActiveRuns
from thedata.domain.errors import DomainError
from thedata.domain.runs import Run
from thedata.entrypoints.cli.tables import render_table
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

_HEADER = ("RUN", "ORGANIZATION", "PIPELINE", "STATUS", "ATTEMPT", "QUEUED", "WORKER", "STUCK")


def list_runs(settings: Settings, *, stuck: bool, limit: int, as_json: bool) -> int:
    """Print the queued and running runs of every organization (``stuck``: those no worker
    is moving, with the reason); exit 0 either way."""
    active = asyncio.run(_active(settings, stuck=stuck, limit=limit))
    if as_json:
        for entry in active.runs:
            print(json.dumps(_as_json(entry)))  # noqa: T201
    else:
        print(render_runs(active, stuck_only=stuck))  # noqa: T201
    if len(active.runs) == limit:  # there may be more: say so where a person looks
        print(f"thedata: the first {limit} shown; --limit shows more", file=sys.stderr)  # noqa: T201
    return 0


async def _active(settings: Settings, *, stuck: bool, limit: int) -> ActiveRuns:
    async with started(build_container(settings)) as container:
        list_active = await resolve(container.list_active_runs)
        return await list_active(stuck_only=stuck, limit=limit)


def retry_run(settings: Settings, run_id: UUID) -> int:
    """Queue a failed or cancelled run again; exit 1, saying why, when it cannot be."""
    try:
        run = asyncio.run(_retry(settings, run_id))
    except DomainError as e:
        print(f"thedata: {e}", file=sys.stderr)  # noqa: T201
        return 1
    print(  # noqa: T201
        f"queued run {run.id} (a retry of {run_id}) of pipeline {run.pipeline_id}"
        f" in organization {run.organization_id}"
    )
    return 0


async def _retry(settings: Settings, run_id: UUID) -> Run:
    async with started(build_container(settings)) as container:
        return await (await resolve(container.retry_run))(run_id)


def _as_json(entry: ActiveRun) -> dict[str, Any]:
    run = entry.run
    return {
        "id": str(run.id),
        "organization_id": str(run.organization_id),
        "pipeline_id": str(run.pipeline_id),
        "status": run.status.value,
        "trigger": run.trigger.value,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "cancel_requested": run.cancel_requested,
        "queued_at": run.queued_at.isoformat(),
        "not_before": run.not_before.isoformat() if run.not_before else None,
        "worker_id": run.worker_id,
        "lease_expires_at": run.lease_expires_at.isoformat() if run.lease_expires_at else None,
        "stuck": entry.stuck,
    }


def render_runs(active: ActiveRuns, *, stuck_only: bool) -> str:
    """A table a person reads (times in UTC); the queue's state in one line when it is empty."""
    if not active.runs:
        return "no run is stuck" if stuck_only else "no run is queued or running"
    rows = [
        (
            str(e.run.id),
            str(e.run.organization_id),
            str(e.run.pipeline_id),
            e.run.status.value,
            f"{e.run.attempt}/{e.run.max_attempts}",
            e.run.queued_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            e.run.worker_id or "-",
            e.stuck or "-",
        )
        for e in active.runs
    ]
    return render_table(_HEADER, rows)
