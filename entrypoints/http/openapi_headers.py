"""The response headers the API promises (API.md), declared on every operation's answers
in the OpenAPI document, so that clients and their generators see them and the schema
fuzzer holds the server to them: ``X-Request-ID`` on every answer, ``WWW-Authenticate`` on
a 401, ``Retry-After`` on a 429 and a 503, ``Idempotent-Replayed`` on an answer a creating
request's ``Idempotency-Key`` replayed."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import OpenAPIHeader, OpenAPIType, Schema

from thedata.entrypoints.http.idempotency import REPLAYED_HEADER

_REQUEST_ID = OpenAPIHeader(
    description="The request's id (a sane incoming one is echoed): quote it when asking "
    "about a request; every log line of the request carries it.",
    required=True,
    schema=Schema(type=OpenAPIType.STRING, min_length=1),
)
_WWW_AUTHENTICATE = OpenAPIHeader(
    description="The scheme to authenticate with (RFC 6750).",
    required=True,
    schema=Schema(type=OpenAPIType.STRING, min_length=1),
)
_RETRY_AFTER = OpenAPIHeader(
    description="Seconds to wait before trying again.",
    required=True,
    schema=Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$"),
)
_REPLAYED = OpenAPIHeader(
    description="`true` on the first answer to the same `Idempotency-Key` and body, "
    "replayed: nothing was created again.",
    schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
)


HEADERS: dict[str, OpenAPIHeader] = {
    "X-Request-ID": _REQUEST_ID,
    "WWW-Authenticate": _WWW_AUTHENTICATE,
    "Retry-After": _RETRY_AFTER,
    REPLAYED_HEADER: _REPLAYED,
}
"""Every header declared, for the document's ``components/headers``."""


def _named(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def declare_headers(operation: dict[str, Any]) -> None:
    """Add the headers each of ``operation``'s answers carries (an operation object of the
    document, changed in place), each naming its entry in ``components/headers``."""
    replayable = any(
        parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key"
        for parameter in operation.get("parameters", ())
    )
    for status, answer in (operation.get("responses") or {}).items():
        headers = answer.setdefault("headers", {})
        headers["X-Request-ID"] = _named("X-Request-ID")
        if status == "401":
            headers["WWW-Authenticate"] = _named("WWW-Authenticate")
        if status in ("429", "503"):
            headers["Retry-After"] = _named("Retry-After")
        if replayable and status.startswith("2"):
            headers[REPLAYED_HEADER] = _named(REPLAYED_HEADER)
