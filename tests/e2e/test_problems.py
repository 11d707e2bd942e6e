"""Every error answer is an RFC 9457 problem detail with the request id; never a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MAX_BODY

pytestmark = pytest.mark.postgres

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem of ``status`` whose request id matches the header."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_an_unknown_path_is_a_404_problem(client: Any) -> None:
    """Routing misses are problems too, naming the path that was asked for."""
    body = assert_problem(await client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"


async def test_a_wrong_method_is_a_405_problem_with_allow(client: Any) -> None:
    """405 tells which methods the path does support."""
    response = await client.delete("/health/live")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_a_body_over_the_limit_is_a_413_problem(client: Any) -> None:
    """The configured body limit holds: one byte over is refused before any handler runs."""
    oversized = b'{"name": "' + b"x" * MAX_BODY + b'", "count": 1}'
    response = await client.post(
        "/probe/echo", content=oversized, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_a_body_under_the_limit_is_accepted(client: Any) -> None:
    """The limit is not a ban: a valid body within it is served."""
    response = await client.post("/probe/echo", json={"name": "ok", "count": 1})
    assert response.status_code == 200
    assert response.json() == {"name": "ok", "count": 1, "tags": [], "window": None}


async def test_an_unknown_field_is_rejected_with_its_pointer(client: Any) -> None:
    """Unknown JSON fields are 400, and the errors list points at the field."""
    body = assert_problem(
        await client.post("/probe/echo", json={"name": "a", "count": 1, "colour": "red"}), 400
    )
    assert [e["field"] for e in body["errors"]] == ["/colour"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "", "count": 1}, "/name"),
        ({"name": "a", "count": -1}, "/count"),
        ({"name": "a", "count": "many"}, "/count"),
        ({"name": "a"}, "/count"),
        ({"name": "a", "count": 1, "tags": ["x", 1]}, "/tags/1"),
        ({"name": "a", "count": 1, "window": {}}, "/window/start"),
        ({"name": "a", "count": 1, "window": {"start": 1, "end": 2}}, "/window/end"),
        ({"name": "a", "count": 1, "a/b~c": 1}, "/a~1b~0c"),
    ],
)
async def test_invalid_fields_are_named_as_json_pointers(
    client: Any, payload: dict[str, Any], field: str
) -> None:
    """Each invalid or missing field is reported where it is, in JSON pointer form."""
    body = assert_problem(await client.post("/probe/echo", json=payload), 400)
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["errors"][0]["message"]


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\xff\xfe", b'{"name": "a", "count": 1e999}'])
async def test_malformed_json_is_a_400_problem(client: Any, raw: bytes) -> None:
    """Garbage, a wrong JSON type or undecodable bytes are the client's error, not a 500:
    invalid input, with an ``errors`` entry for the body in our words, not the parser's."""
    response = await client.post(
        "/probe/echo", content=raw, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == "https://thedata.io/problems/invalid-input"
    ((error,),) = [body["errors"]]
    assert error["field"] == ""
    assert "malformed" not in error["message"]  # msgspec's "JSON is malformed: ..."
    assert "truncated" not in error["message"]  # msgspec's "Input data was truncated"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_that_is_not_json_by_its_media_type_is_a_415_problem(
    client: Any, content_type: str
) -> None:
    """A JSON-looking body sent as another type is not read as JSON: 415, saying what to send."""
    response = await client.post(
        "/probe/echo", content=b'{"name": "a", "count": 1}', headers={"content-type": content_type}
    )
    body = assert_problem(response, 415)
    assert body["type"] == "https://thedata.io/problems/unsupported-media-type"
    assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8",
                     "Application/JSON", "application/merge-patch+json"],
)  # fmt: skip
async def test_json_media_types_and_none_at_all_are_read_as_json(
    client: Any, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/probe/echo", content=b'{"name": "a", "count": 1}', headers=headers
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("value", ["0", "201", "ten", "1e3", ""])
async def test_an_invalid_query_parameter_is_named(client: Any, value: str) -> None:
    """Out-of-range or non-numeric parameters are 400 with the parameter's name."""
    body = assert_problem(await client.get("/probe/items", params={"limit": value}), 400)
    assert [e["field"] for e in body["errors"]] == ["limit"]


@pytest.mark.parametrize(
    ("kind", "status", "type_suffix"),
    [
        ("not_found", 404, "not-found"),
        ("conflict", 409, "conflict"),
        ("permission", 403, "permission-denied"),
        ("invalid", 400, "invalid-input"),
        ("unavailable", 503, "dependency-unavailable"),
    ],
)
async def test_domain_errors_map_to_their_status(
    client: Any, kind: str, status: int, type_suffix: str
) -> None:
    """Each base error of the core has one status and a problem type of its own."""
    body = assert_problem(await client.get(f"/probe/raise/{kind}"), status)
    assert body["type"].endswith("/" + type_suffix)


async def test_invalid_input_from_the_core_lists_its_fields(client: Any) -> None:
    """Rules checked in the application report fields the same way as edge validation."""
    body = assert_problem(await client.get("/probe/raise/invalid"), 400)
    assert body["errors"] == [{"field": "/schedule", "message": "too often"}]


async def test_an_unavailable_dependency_says_when_to_retry(client: Any) -> None:
    """503 carries Retry-After so clients back off instead of hammering."""
    response = await client.get("/probe/raise/unavailable")
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "7"


async def test_an_unexpected_error_reveals_nothing(client: Any) -> None:
    """A bug is a plain 500 problem: no message, traceback, path or secret of the exception."""
    response = await client.get("/probe/raise/bug")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "app.py" not in response.text
    assert "request id" in body["detail"]


async def test_a_sane_request_id_is_echoed(client: Any) -> None:
    """A caller's own X-Request-ID comes back, so traces join across services."""
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123_DEF.4"})
    assert response.headers["x-request-id"] == "abc-123_DEF.4"


@pytest.mark.parametrize("hostile", ["a" * 129, "has space", "new\tline", "<script>", "-lead"])
async def test_an_unsafe_request_id_is_replaced(client: Any, hostile: str) -> None:
    """Ids that could forge log lines or bloat headers are not echoed; a fresh one is used."""
    response = await client.get("/nowhere", headers={"X-Request-ID": hostile})
    body = assert_problem(response, 404)
    assert response.headers["x-request-id"] != hostile
    assert body["request_id"] == response.headers["x-request-id"]


async def test_every_response_has_a_distinct_request_id(client: Any) -> None:
    """Without an incoming id each request gets a new one."""
    ids = {(await client.get("/health/live")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
