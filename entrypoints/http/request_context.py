"""Per-request context: the request id on every response and log line, and the access log."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from thedata.entrypoints.container.edge import log_request, request_scope

REQUEST_ID_HEADER = "x-request-id"
_HEADER_NAME = REQUEST_ID_HEADER.encode()
# Echo only ids that are safe to put in logs and headers: short, printable, no spaces.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def request_id_of(scope: HTTPScope) -> str:
    """The request's id: the client's ``X-Request-ID`` if it is sane, else a new one (once)."""
    state = scope.setdefault("state", {})
    request_id: str | None = state.get("request_id")
    if request_id is None:
        request_id = _incoming_id(scope) or _new_request_id()
        state["request_id"] = request_id
    return request_id


def _new_request_id() -> str:
    return str(uuid.uuid4())


def _incoming_id(scope: HTTPScope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_NAME:
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestContextMiddleware:
    """Wraps the whole application, routing errors included, so no response escapes it.

    Binds the request id to every log line written while the request runs,
    adds ``X-Request-ID`` to the response and writes one access-log line with
    method, route template, status and duration. Runs the request in a
    ``request_scope``, where its caller and its use case may share a connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != _HEADER_NAME]
                headers.append((_HEADER_NAME, request_id.encode()))
                message["headers"] = headers
            await send(message)

        # Set and reset by token: ``bound_contextvars`` first copies the whole context to
        # learn what to restore, a twentieth of a request to ``/health/live``.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            async with request_scope():
                await self._app(scope, receive, send_with_id)
        finally:
            log_request(
                method=scope["method"],
                route=scope.get("path_template"),
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**bound)
