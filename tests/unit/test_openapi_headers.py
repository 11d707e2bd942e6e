"""The OpenAPI document declares the headers API.md promises on every answer (the schema
fuzzer then holds the live server to them: tests/e2e/test_schema_fuzz.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from thedata.entrypoints.cli.openapi_document import render_openapi_document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(render_openapi_document()))


def headers_of(document: dict[str, Any], answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An answer's headers, each resolved from ``components/headers``."""
    named = document["components"]["headers"]
    return {
        name: named[header["$ref"].rsplit("/", 1)[1]] if "$ref" in header else header
        for name, header in answer.get("headers", {}).items()
    }


def test_every_answer_names_its_request_id_and_the_status_headers_it_carries(
    document: dict[str, Any],
) -> None:
    """X-Request-ID on every answer; WWW-Authenticate on a 401; Retry-After on a 429 or a
    503; Idempotent-Replayed, optional, on the success of a request taking Idempotency-Key;
    each required where the server always sends it."""
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            replayable = any(
                p.get("name") == "Idempotency-Key" for p in operation.get("parameters", ())
            )
            for status, answer in operation["responses"].items():
                headers = headers_of(document, answer)
                expected = {"X-Request-ID": True}
                if status == "401":
                    expected["WWW-Authenticate"] = True
                if status in ("429", "503"):
                    expected["Retry-After"] = True
                if replayable and status.startswith("2"):
                    expected["Idempotent-Replayed"] = False
                for name, required in expected.items():
                    if headers.get(name, {}).get("required") is not required:
                        missing.append(f"{method.upper()} {path} {status}: {name}")
    assert not missing, "\n".join(missing)
