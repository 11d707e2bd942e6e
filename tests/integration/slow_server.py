"""A server process for the drain test: the production app plus one slow route.

Run as ``python slow_server.py PORT`` with THEDATA_* variables set.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from litestar import Litestar, get

from thedata.entrypoints.asgi import app_from_environment


@get("/slow")
async def slow() -> dict[str, bool]:
    """Answer after a while, long enough to be in flight when SIGTERM arrives."""
    await asyncio.sleep(1.5)
    return {"done": True}


def app() -> Litestar:
    application = app_from_environment()
    application.register(slow)
    return application


if __name__ == "__main__":
    uvicorn.run(
        app, factory=True, port=int(sys.argv[1]), log_config=None, timeout_graceful_shutdown=10
    )
