"""An ASGI application factory configured from the environment.

For ``thedata serve --workers N`` and for any ASGI server:
``uvicorn --factory --no-proxy-headers thedata.entrypoints.asgi:app_from_environment``
(the app names the client itself, from ``THEDATA_CLIENT_ADDRESS_HEADER`` or the peer).
"""

from __future__ import annotations

from litestar import Litestar

from thedata.entrypoints.config import load_settings
from thedata.entrypoints.container import build_container, configure_logging
from thedata.entrypoints.heap import settle_heap
from thedata.entrypoints.http import create_app


def app_from_environment() -> Litestar:
    """Load and validate the settings, set up logging, and build the app on a new container."""
    settings = load_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    app = create_app(build_container(settings))
    app.on_startup.append(settle_heap)  # once the lifespan opened the pools
    return app
