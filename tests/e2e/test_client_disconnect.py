"""A client that hangs up before its body is whole: the client's doing, never a 500 of ours
(a 500 spends the API's error budget, and anyone could spend it that way)."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.e2e.api import raw_post_scope
from tests.scraped import scraped, value


async def test_a_hang_up_mid_body_is_a_4xx_in_the_metrics_and_the_access_line(
    client: Any, log_lines: io.StringIO
) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"email": "ada@x', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = raw_post_scope("/v1/auth/register", 200)
    series = {"method": "POST", "route": "/v1/auth/register"}
    before = scraped()
    await client.app(scope, receive, send)
    after = scraped()
    assert sent[0]["status"] == 499
    name = "thedata_http_requests_total"
    assert (
        value(after, name, status_class="4xx", **series)
        - value(before, name, status_class="4xx", **series)
        == 1
    )
    assert value(after, name, status_class="5xx", **series) == value(
        before, name, status_class="5xx", **series
    )
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert not [line for line in lines if line.get("level") == "error"]
