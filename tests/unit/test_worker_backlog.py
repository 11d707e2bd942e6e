"""A worker reads the queue's backlog for the metrics only: with metrics off it does not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.catalog import Catalog
from tests.unit.test_run_use_cases import Runs
from thedata.adapters.observability.run_metrics import PrometheusRunMetrics
from thedata.application.ports import NoRunMetrics, RunMetrics
from thedata.entrypoints.worker import Worker


class CountingQueue:
    """The memory run queue, counting the backlog reads."""

    def __init__(self, queue: Any) -> None:
        self._queue, self.backlog_reads = queue, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    async def backlog(self) -> Any:
        self.backlog_reads += 1
        return await self._queue.backlog()


async def never_called(run: Any, stopping: asyncio.Event) -> Any:
    raise AssertionError("no run was queued")


@pytest.mark.parametrize(("metrics", "reads"), [(None, False), (NoRunMetrics(), False),
                                                (PrometheusRunMetrics(), True)])  # fmt: skip
async def test_the_backlog_is_read_only_when_metrics_count_it(
    metrics: RunMetrics | None, reads: bool
) -> None:
    queue = CountingQueue(Runs(Catalog()).queue)
    worker = Worker(queue, never_called, metrics=metrics, poll=0.01, reap_every=0.01)  # type: ignore[arg-type]
    stopping = asyncio.Event()
    running = asyncio.create_task(worker.run(stopping))
    await asyncio.sleep(0.1)
    stopping.set()
    await running
    assert (queue.backlog_reads > 0) is reads
