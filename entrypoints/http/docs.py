"""The OpenAPI document and a Swagger UI that loads nothing from the internet."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.router import Router
from litestar.static_files import create_static_files_router

from thedata.entrypoints.http.openapi_examples import PROBLEM_EXAMPLES
from thedata.entrypoints.http.openapi_headers import HEADERS

SCHEMA_PATH = "/schema"
ASSETS_PATH = "/schema/assets"
# the browser would otherwise fetch a favicon from a CDN
_NO_FAVICON = '<link rel="icon" href="data:,">'


def openapi_config(version: str) -> OpenAPIConfig:
    """OpenAPI 3.1 at ``/schema/openapi.json``; Swagger UI at ``/schema`` from local assets.

    Each operation's description is its handler's docstring; ``components/examples`` holds
    one problem detail per status, which the operations' error answers name."""
    return OpenAPIConfig(
        title="theData.io API",
        version=version,
        description="Move data between Postgres databases and files, on a schedule or on demand.",
        path=SCHEMA_PATH,
        use_handler_docstrings=True,
        components=Components(
            examples=dict(PROBLEM_EXAMPLES),
            headers=dict(HEADERS),
            security_schemes={
                "bearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An access token (`tdt_…`) from `POST /v1/auth/token`, or an "
                    "organization API key (`tdk_…`).",
                )
            },
        ),
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon=_NO_FAVICON,
            ),
            JsonRenderPlugin(path="/openapi.json"),
        ],
    )


def swagger_assets_dir() -> Path:
    """The Swagger UI files shipped in the ``swagger-ui-py`` package."""
    with as_file(files("swagger_ui") / "static") as folder:
        return Path(folder)


def docs_assets_router() -> Router:
    """Serves the Swagger UI files the docs page needs."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[swagger_assets_dir()],
        include_in_schema=False,
        cache_control=None,
        name="docs-assets",
    )
