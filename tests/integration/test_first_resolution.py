"""A request cancelled while the application builds a use case for the first time (a client
that hung up, a body that timed out) leaves no asyncio error behind, and the use case is
built all the same for the next request."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from litestar.datastructures import State

from tests.conftest import make_settings
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.http.dependencies import built

pytestmark = pytest.mark.postgres


async def test_a_first_build_cancelled_midway_logs_nothing_and_completes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    container = build_container(make_settings(database_url=database_url))
    async with started(container):
        state = State({"container": container})

        def select(c: Any) -> Any:  # one key, as a route's own selector is
            return c.authenticate

        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(3):  # cancelled at different points of the build
                first = asyncio.ensure_future(built(state, select))
                await asyncio.sleep(0)
                first.cancel()
                await asyncio.gather(first, return_exceptions=True)
            made = await built(state, select)
            await asyncio.sleep(0.05)  # any callback scheduled by the cancellation runs
        assert made is await built(state, select)
        assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text
