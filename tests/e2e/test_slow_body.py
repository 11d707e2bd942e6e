"""A client that declares a body and stops sending it is cut off, not waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import raw_post_scope
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

BODY_TIMEOUT = 0.3


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Any]:
    settings = make_settings(database_url=database_url, body_timeout=BODY_TIMEOUT, **CHEAP_HASHING)
    async with AsyncTestClient(create_app(build_container(settings))) as client:
        yield client.app


async def answer(
    app: Any, pieces: list[bytes], pause: float, *, ends: bool = True, declared: int = 100
) -> tuple[list[dict[str, Any]], float]:
    """The messages the app sends for a body sent in ``pieces``, ``pause`` s apart; unless
    the last piece ``ends`` the body, the client says more is coming and goes silent."""
    sent: list[dict[str, Any]] = []
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(3600)  # a client that stopped sending
        await asyncio.sleep(pause)
        piece = queue.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(queue) or not ends}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    await asyncio.wait_for(
        app(raw_post_scope("/v1/auth/register", declared), receive, send), timeout=10
    )
    return sent, time.perf_counter() - started


async def test_a_body_that_stops_arriving_is_a_408_problem_and_the_connection_closes(
    app: Any,
) -> None:
    sent, elapsed = await answer(app, [b'{"email": "slow@x'], pause=0, ends=False)
    start, body = sent[0], sent[1]
    assert start["status"] == 408
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    problem = msgspec.json.decode(body["body"])
    assert problem["type"].endswith("/body-timeout")
    assert problem["request_id"] == headers["x-request-id"]
    assert elapsed < BODY_TIMEOUT + 1


async def test_a_body_trickled_slower_than_the_minimum_rate_is_cut_off(app: Any) -> None:
    """A slow-loris sending a piece just inside each pause, for ever, is stopped once the
    whole body is overdue (its declared 100 bytes at 1 KiB/s: well under a second more)."""
    pieces = [b" "] * 100
    sent, elapsed = await answer(app, pieces, pause=BODY_TIMEOUT * 0.8, ends=False)
    assert sent[0]["status"] == 408
    assert elapsed < BODY_TIMEOUT * 3


async def test_a_slow_body_whose_pieces_keep_coming_is_read_whole(app: Any) -> None:
    """Pieces a little apart are fine, as long as the whole keeps up with the minimum rate
    over what the body declares (here 2 KiB: about two seconds more than one pause)."""
    body = msgspec.json.encode({"email": "steady@x.io", "password": "p" * 12, "name": "S"})
    body += b" " * (2048 - len(body))  # JSON allows trailing blanks
    pieces = [body[i : i + 256] for i in range(0, len(body), 256)]
    sent, elapsed = await answer(app, pieces, pause=BODY_TIMEOUT / 3, declared=len(body))
    assert sent[0]["status"] == 201, sent
    assert elapsed > BODY_TIMEOUT  # the body took longer than one pause allows in all
