"""Logs a person can follow: JSON lines, one access line per request, request ids everywhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
import structlog

from thedata.adapters.observability import configure_logging

pytestmark = pytest.mark.postgres


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written so far; each must be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_each_request_writes_one_access_line(client: Any, log_lines: io.StringIO) -> None:
    """The access line names method, route template, status, duration and request id."""
    response = await client.get("/probe/raise/not_found", headers={"X-Request-ID": "req-1"})
    access = [e for e in events(log_lines) if e.get("logger") == "thedata.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["route"] == "/probe/raise/{kind}"
    assert line["status"] == response.status_code == 404
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "req-1"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


async def test_lines_written_while_serving_carry_the_request_id(
    client: Any, log_lines: io.StringIO
) -> None:
    """An error logged inside a request is tied to it by the same id the client received."""
    response = await client.get("/probe/raise/bug")
    request_id = response.headers["x-request-id"]
    errors = [e for e in events(log_lines) if e.get("level") == "error"]
    assert [e["request_id"] for e in errors] == [request_id]
    assert errors[0]["exception"], "the traceback is logged, structured"
    assert "hunter2" in json.dumps(errors[0]), "the operator sees the real error"


async def test_unrouted_requests_are_logged_too(client: Any, log_lines: io.StringIO) -> None:
    """A 404 for an unknown path still gets its access line, with no route template."""
    await client.get("/no/such/path")
    access = [e for e in events(log_lines) if e.get("logger") == "thedata.access"]
    assert [(a["path"], a["route"], a["status"]) for a in access] == [("/no/such/path", None, 404)]


async def test_a_credential_in_the_path_is_masked_in_the_access_line(
    client: Any, log_lines: io.StringIO
) -> None:
    """A client that puts a token (or a URL with a password) into the path: the access line
    shows the rest of the path, never the secret."""
    token = "tdt_" + "A" * 40
    await client.get(f"/no/{token}/x")
    await client.get("/no/postgresql://ada:hunter22@db/x")
    access = [e for e in events(log_lines) if e.get("logger") == "thedata.access"]
    assert [a["path"] for a in access] == [
        "/no/[REDACTED]/x",
        "/no/postgresql://ada:[REDACTED]@db/x",
    ]
    assert token not in log_lines.getvalue()
    assert "hunter22" not in log_lines.getvalue()


async def test_access_lines_follow_the_level_and_the_format(client: Any) -> None:
    """At level warning there is no access line; in the console format it is there, as text."""
    quiet, console = io.StringIO(), io.StringIO()
    try:
        configure_logging(log_format="json", level="warning", stream=quiet)
        await client.get("/no/such/path")
        configure_logging(log_format="console", level="info", stream=console)
        await client.get("/no/such/path")
    finally:
        configure_logging(log_format="console", level="warning")
    assert quiet.getvalue() == ""
    assert "request" in console.getvalue()
    assert "/no/such/path" in console.getvalue()


def test_standard_library_logs_go_through_the_same_pipeline(log_lines: io.StringIO) -> None:
    """uvicorn's and psycopg's stdlib records come out as the same JSON lines."""
    logging.getLogger("uvicorn.error").warning("port %d busy", 8000)
    logging.getLogger("psycopg.pool").warning("pool grew")
    lines = {e["logger"]: e for e in events(log_lines)}
    assert lines["uvicorn.error"]["event"] == "port 8000 busy"
    assert lines["uvicorn.error"]["level"] == "warning"
    assert lines["psycopg.pool"]["event"] == "pool grew"


def test_tracebacks_never_show_local_variables(log_lines: io.StringIO) -> None:
    """A password in a local variable of a failing frame does not reach the log."""

    def connect(password: str) -> None:
        raise ConnectionError("refused")

    try:
        connect(password="s3cr3t-value")
    except ConnectionError:
        structlog.get_logger("test").exception("connect failed")
    assert "s3cr3t-value" not in log_lines.getvalue()
    assert "refused" in log_lines.getvalue()


async def test_a_bad_page_beside_a_bad_token_logs_no_error(
    client: Any, log_lines: io.StringIO
) -> None:
    """A list call with a bad limit or cursor and a bogus token: a problem answer and an
    access line, never an error line (dependencies resolved side by side used to log the
    cancelled one's future as an asyncio error)."""
    org = "00000000-0000-7000-8000-000000000000"
    bogus = {"Authorization": "Bearer tdt_bogus"}
    for query in ("limit=0", "cursor=not-one", "limit=x&cursor=y"):
        answer = await client.get(f"/v1/orgs/{org}/pipelines?{query}", headers=bogus)
        assert answer.status_code in (400, 401)
    lines = events(log_lines)
    assert [e for e in lines if e.get("level") in ("error", "critical")] == []
    assert len([e for e in lines if e.get("logger") == "thedata.access"]) == 3


async def test_the_access_line_is_written_by_the_next_turn_of_the_loop(
    client: Any, log_lines: io.StringIO
) -> None:
    """Nobody flushes: the line a request wrote soon is in the stream once the app's event
    loop has turned. Read past the capture's own flush, with the HTTP client's lines (which
    would write the waiting ones before theirs) turned off."""
    client_logger = logging.getLogger("httpx")
    level = client_logger.level
    client_logger.setLevel(logging.WARNING)
    try:
        await client.get("/health/live")
        access: list[dict[str, Any]] = []
        for _ in range(200):  # the app's loop runs in the client's own thread: wait for it
            written = io.StringIO.getvalue(log_lines)
            access = [json.loads(x) for x in written.splitlines() if '"thedata.access"' in x]
            if access:
                break
            await asyncio.sleep(0.01)
    finally:
        client_logger.setLevel(level)
    assert [a["path"] for a in access] == ["/health/live"]
