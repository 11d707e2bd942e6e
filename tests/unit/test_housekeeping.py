"""Housekeeping on memory adapters: what expired goes, in batches; nothing live is touched."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.test_run_use_cases import setup
from thedata.application.use_cases import Housekeeping, Purged
from thedata.domain.pagination import PageRequest


async def test_finished_runs_past_retention_and_expired_keys_go_live_ones_stay() -> None:
    catalog, runs, owner, org, pipeline = await setup()
    sweep = Housekeeping(catalog.uow, runs.clock, timedelta(days=30), batch=10).sweep
    first = await runs.trigger(owner, org, pipeline)
    claimed = await runs.queue.claim("w")
    assert claimed is not None
    assert await runs.queue.succeed(claimed) is not None
    assert await sweep() == Purged(0, 0)  # finished just now: kept
    runs.clock.advance(timedelta(days=31))
    second = await runs.trigger(owner, org, pipeline)  # queued, never finished: kept
    assert await sweep() == Purged(0, 1)
    page = await runs.list(owner, org, PageRequest())
    assert [r.id for r in page.items] == [second.id]
    assert first.id not in [r.id for r in page.items]
