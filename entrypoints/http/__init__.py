"""The HTTP API (Litestar): ``create_app(container)``."""

from thedata.entrypoints.http.app import create_app

__all__ = ["create_app"]
