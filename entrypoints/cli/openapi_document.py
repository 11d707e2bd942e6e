"""The API's OpenAPI document as text, without a database: the source of the committed
``docs/openapi.json``, whose diff in a change is the review of an API change."""

from __future__ import annotations

import json

from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

# the document does not depend on the database; nothing connects to this one
_NO_DATABASE = "postgresql://openapi@127.0.0.1:1/none"


def render_openapi_document() -> str:
    """The document of an app with every default setting, keys sorted, two-space indent."""
    app = create_app(build_container(Settings(database_url=_NO_DATABASE)))
    document = app.openapi_schema.to_schema()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
