"""The OpenAPI 3.1 document, and a docs page that needs nothing from the internet."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import pytest

pytestmark = pytest.mark.postgres


async def test_the_openapi_document_is_3_1_and_describes_the_endpoints(client: Any) -> None:
    """Clients generate code from it: it must be 3.1 and list every public path."""
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert {"/health/live", "/health/ready"} <= document["paths"].keys()
    ready = document["paths"]["/health/ready"]["get"]["responses"]
    assert {"200", "503"} <= ready.keys()


async def test_the_docs_page_loads_only_assets_served_here(client: Any) -> None:
    """Every script, stylesheet and icon the page names is local and actually served."""
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", response.text)
    urls = re.findall(r"""url:\s*["']([^"']+)["']""", response.text)
    assert references, "the page should reference its assets"
    for reference in references + urls:
        assert not re.match(r"^(https?:)?//", reference), f"{reference} is fetched from afar"
        if reference.startswith("data:"):
            continue
        asset = await client.get(urljoin("/schema/", reference))
        assert asset.status_code == 200, reference
        assert asset.content, reference


async def test_docs_assets_outside_the_folder_are_not_served(client: Any) -> None:
    """The static route serves its folder only: traversal gets a 404 problem."""
    response = await client.get("/schema/assets/..%2F..%2F__init__.py")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# API.md's Authentication and Organizations tables: (method, path) as the document spells them.
IDENTITY_OPERATIONS = {
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/token"),
    ("post", "/v1/auth/logout"),
    ("get", "/v1/users/me"),
    ("patch", "/v1/users/me"),
    ("get", "/v1/orgs"),
    ("post", "/v1/orgs"),
    ("get", "/v1/orgs/{org_id}"),
    ("patch", "/v1/orgs/{org_id}"),
    ("delete", "/v1/orgs/{org_id}"),
    ("get", "/v1/orgs/{org_id}/members"),
    ("post", "/v1/orgs/{org_id}/members"),
    ("patch", "/v1/orgs/{org_id}/members/{user_id}"),
    ("delete", "/v1/orgs/{org_id}/members/{user_id}"),
    ("get", "/v1/orgs/{org_id}/api-keys"),
    ("post", "/v1/orgs/{org_id}/api-keys"),
    ("delete", "/v1/orgs/{org_id}/api-keys/{key_id}"),
}
PUBLIC = {("post", "/v1/auth/register"), ("post", "/v1/auth/token")}


async def test_every_identity_endpoint_is_documented_with_its_security(client: Any) -> None:
    """Each operation of API.md is in the document; all but sign-up and sign-in need a bearer."""
    document = (await client.get("/schema/openapi.json")).json()
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented >= IDENTITY_OPERATIONS
    assert "bearerAuth" in document["components"]["securitySchemes"]
    for method, path in IDENTITY_OPERATIONS:
        operation = document["paths"][path][method]
        expected: list[dict[str, list[str]]] = (
            [] if (method, path) in PUBLIC else [{"bearerAuth": []}]
        )
        assert operation.get("security", []) == expected, (method, path)


async def test_list_endpoints_document_pagination_and_creates_their_idempotency_key(
    client: Any,
) -> None:
    """limit (1..200) and cursor on every list; Idempotency-Key on every creating POST."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/v1/orgs", "/v1/orgs/{org_id}/members", "/v1/orgs/{org_id}/api-keys"):
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert parameters["limit"]["schema"]["minimum"] == 1
        assert parameters["limit"]["schema"]["maximum"] == 200
        assert "cursor" in parameters
        post_parameters = {p["name"] for p in paths[path]["post"]["parameters"] or []}
        assert "Idempotency-Key" in post_parameters, path


async def test_error_answers_are_documented_as_problem_details(client: Any) -> None:
    """Every /v1 operation documents 400 and 401 as application/problem+json Problems."""
    document = (await client.get("/schema/openapi.json")).json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, item in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            for status in ("400", "401"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path)
                assert content["application/problem+json"]["schema"] == problem, (method, path)


async def test_no_schema_offers_alternatives_that_overlap(client: Any) -> None:
    """A ``oneOf`` whose branches both match a value (``number`` and ``integer``: every
    integer is a number) makes valid answers fail their own schema."""
    document = (await client.get("/schema/openapi.json")).json()
    overlapping = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            types = {branch.get("type") for branch in node.get("oneOf", []) if "type" in branch}
            if {"number", "integer"} <= types:
                overlapping.append(where)
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for number, value in enumerate(node):
                visit(value, f"{where}/{number}")

    visit(document, "")
    assert not overlapping


async def test_options_and_405_name_every_method_a_path_has(client: Any) -> None:
    """For every documented path: OPTIONS answers 204 with ``Allow`` naming each method the
    document lists there (and OPTIONS), and so does a 405 for a method it lacks."""
    document = (await client.get("/schema/openapi.json")).json()
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "01a22e4b-2755-7502-bcf6-0ec7677f124e", template)
        documented = {method.upper() for method in operations} | {"OPTIONS"}
        answer = await client.options(path)
        assert answer.status_code == 204, template
        assert set(answer.headers["allow"].split(", ")) == documented, template
        missing = sorted({"PUT", "PATCH", "DELETE", "POST", "GET"} - documented)
        if missing:
            refused = await client.request(missing[0], path)
            assert refused.status_code == 405, (template, missing[0])
            assert set(refused.headers["allow"].split(", ")) == documented, template
