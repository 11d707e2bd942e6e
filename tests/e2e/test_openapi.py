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
