"""Every operation of the OpenAPI document is described and shows examples, and each example
is one its own schema accepts: the schemas of the served document are the oracle, whoever
wrote the examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import jsonschema_rs
import pytest

from thedata.entrypoints.cli.openapi_document import render_openapi_document
from thedata.entrypoints.http.openapi_examples import OPERATIONS
from thedata.entrypoints.http.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

METHODS = ("get", "put", "post", "patch", "delete")
Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document the app serves, built as the snapshot test builds it."""
    loaded: dict[str, Any] = json.loads(render_openapi_document())
    return loaded


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Each operation: its method, its path and its object."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def accepts(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """What ``schema`` (its ``$ref``s resolved in the document's components) finds wrong with
    ``value``, as JSON Schema 2020-12 (OpenAPI 3.1's dialect) says: nothing if it is valid."""
    root = {**schema, "components": document["components"]}
    validator = jsonschema_rs.Draft202012Validator(root)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(value)]


def example_values(document: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    """A media type's examples by name, each a value (an ``$ref`` to the components
    resolved), and its ``example`` if it has one."""
    values: dict[str, Any] = {}
    if "example" in media:
        values["example"] = media["example"]
    for name, entry in (media.get("examples") or {}).items():
        if "$ref" in entry:
            prefix = "#/components/examples/"
            assert entry["$ref"].startswith(prefix), entry["$ref"]
            entry = document["components"]["examples"][entry["$ref"].removeprefix(prefix)]
        assert "value" in entry, name
        values[name] = entry["value"]
    return values


def test_the_document_has_every_operation_of_the_api(document: dict[str, Any]) -> None:
    """The checks below have something to check: the 37 operations of API.md's tables."""
    assert len(list(operations(document))) >= 37


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    """A reader of the docs page learns from each operation what it does and who may call
    it, not only its name."""
    bare = [
        f"{method.upper()} {path}"
        for method, path, operation in operations(document)
        if not (operation.get("summary") or "").strip()
        or not (operation.get("description") or "").strip()
    ]
    assert not bare


def test_every_request_body_has_examples_its_schema_accepts(document: dict[str, Any]) -> None:
    """Each operation that takes a body shows one, and the body's schema validates it."""
    problems: list[str] = []
    bodies = 0
    for method, path, operation in operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        for media_type, media in body["content"].items():
            where = f"{method.upper()} {path} {media_type}"
            values = example_values(document, media)
            if not values:
                problems.append(f"{where}: no example")
            for name, value in values.items():
                bodies += 1
                problems += [
                    f"{where} {name}: {e}" for e in accepts(document, media["schema"], value)
                ]
    assert bodies >= 12
    assert not problems, "\n".join(problems)


def test_the_request_schemas_are_not_vacuous(document: dict[str, Any]) -> None:
    """The oracle can say no: each request body example with an unknown field added is
    refused by its schema (request bodies refuse unknown fields)."""
    accepted = []
    for method, path, operation in operations(document):
        for media in (operation.get("requestBody") or {}).get("content", {}).values():
            for name, value in example_values(document, media).items():
                if accepts(document, media["schema"], {**value, "unexpected": 1}) == []:
                    accepted.append(f"{method.upper()} {path} {name}")
    assert not accepted


def test_every_answer_with_content_has_examples_its_schema_accepts(
    document: dict[str, Any],
) -> None:
    """Each documented answer with a body shows an example, successes and problems alike,
    and the answer's schema validates it."""
    problems: list[str] = []
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            for media_type, media in (answer.get("content") or {}).items():
                where = f"{method.upper()} {path} {status} {media_type}"
                values = example_values(document, media)
                if not values:
                    problems.append(f"{where}: no example")
                for name, value in values.items():
                    errors = accepts(document, media["schema"], value)
                    problems += [f"{where} {name}: {error}" for error in errors]
    assert not problems, "\n".join(problems)


def test_each_problem_example_is_shaped_as_the_api_answers(document: dict[str, Any]) -> None:
    """One problem per status in the components, each a valid ``Problem`` with the type,
    title and status ``problems.problem_response`` gives, and an error answer names the
    example of its own status."""
    shared = document["components"]["examples"]
    problem_schema = {"$ref": "#/components/schemas/Problem"}
    for name, entry in shared.items():
        problem = entry["value"]
        assert not accepts(document, problem_schema, problem), name
        assert name == f"Problem{problem['status']}"
        assert problem["title"] == HTTPStatus(problem["status"]).phrase
        assert problem["type"].startswith(PROBLEM_TYPE_BASE)
        assert problem["instance"].startswith("/v1/")
        assert ("errors" in problem) == (problem["status"] == HTTPStatus.BAD_REQUEST)
    for _, _, operation in operations(document):
        for status, answer in operation["responses"].items():
            media = (answer.get("content") or {}).get(PROBLEM_MEDIA_TYPE, {})
            for entry in (media.get("examples") or {}).values():
                assert entry["$ref"] == f"#/components/examples/Problem{status}"


def test_every_operation_given_examples_is_in_the_document(document: dict[str, Any]) -> None:
    """No examples are kept for an operation the API no longer has (a renamed path)."""
    documented = {f"{method.upper()} {path}" for method, path, _ in operations(document)}
    assert set(OPERATIONS) <= documented
