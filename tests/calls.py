"""Python function calls an ASGI app makes per request: a cost that is the same on any machine.

``CallCounter`` wraps an app and, while each HTTP request runs, counts the profiler's
``call`` events (every Python function entered, coroutines resumed included) on the
thread that serves it. What else the event loop runs meanwhile (a pool's maintenance)
is counted too, rarely: compare medians of several requests.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send


class CallCounter:
    """An ASGI wrapper that keeps the number of Python calls each HTTP request made."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.counts: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        calls = 0

        def profile(_frame: FrameType, event: str, _arg: Any) -> None:
            nonlocal calls
            if event == "call":
                calls += 1

        previous = sys.getprofile()
        sys.setprofile(profile)
        try:
            await self._app(scope, receive, send)
        finally:
            sys.setprofile(previous)
            self.counts.append(calls)
