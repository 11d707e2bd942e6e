"""``thedata workers``: who is executing runs, as the workers said it last."""

from __future__ import annotations

import asyncio

from thedata.application.use_cases import WorkersSeen
from thedata.entrypoints.cli.tables import render_table
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

_HEADER = ("WORKER", "HOST", "PID", "RUNS", "STARTED", "LAST SEEN", "STATE")


def list_workers(settings: Settings) -> int:
    """Print every known worker, live or silent (a worker killed shows silent for an hour)."""
    seen = asyncio.run(_seen(settings))
    print(render_workers(seen))  # noqa: T201
    return 0


async def _seen(settings: Settings) -> WorkersSeen:
    async with started(build_container(settings)) as container:
        return await (await resolve(container.list_workers))()


def render_workers(seen: WorkersSeen) -> str:
    """A table a person reads: ages in seconds by the database's clock, runs held of the most."""
    if not seen.workers:
        return "no worker has been seen: queued runs wait (start `thedata worker`)"
    rows = [
        (
            w.id,
            w.host,
            str(w.pid),
            f"{w.runs_held}/{w.concurrency}",
            w.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{(seen.now - w.last_seen_at).total_seconds():.0f} s ago",
            "live" if w.live(seen.now, seen.silent_after) else "silent",
        )
        for w in seen.workers
    ]
    return render_table(_HEADER, rows)
