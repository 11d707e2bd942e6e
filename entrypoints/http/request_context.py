"""Per-request context: the request id on every response and log line, and the access log."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from thedata.entrypoints.container.edge import (
    bind_request_id,
    log_request,
    observe_request,
    request_scope,
    unbind_request_id,
)
from thedata.entrypoints.http.request_ids import new_request_id

REQUEST_ID_HEADER = "x-request-id"
_HEADER_NAME = REQUEST_ID_HEADER.encode()
_HEADER_LENGTH = len(_HEADER_NAME)
# Echo only ids that are safe to put in logs and headers: short, printable, no spaces.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def request_id_of(scope: HTTPScope) -> str:
    """The request's id: the client's ``X-Request-ID`` if it is sane, else a new one (once)."""
    state = scope.setdefault("state", {})
    request_id: str | None = state.get("request_id")
    if request_id is None:
        request_id = _incoming_id(scope) or new_request_id()
        state["request_id"] = request_id
    return request_id


def _incoming_id(scope: HTTPScope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_NAME:
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def _with_request_id(
    headers: Iterable[tuple[bytes, bytes]], request_id: str
) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours as the one ``X-Request-ID``: ``headers`` itself when
    it is a list without one (ours appended in place; Litestar makes a list per response),
    else a new list."""
    ours = (_HEADER_NAME, request_id.encode())
    if type(headers) is list:
        for name, _ in headers:  # the length first: lowering every name cost a request 2-3 µs
            if len(name) == _HEADER_LENGTH and name.lower() == _HEADER_NAME:
                break
        else:
            headers.append(ours)
            return headers
    return [*(h for h in headers if h[0].lower() != _HEADER_NAME), ours]


DEFAULT_BODY_TIMEOUT = 10.0
REQUEST_TIMEOUT = 408


MIN_BODY_RATE = 1024  # bytes a second a body must average, beyond its first pause


def _body_within(receive: Receive, seconds: float, scope: Scope) -> Receive:
    """``receive``, each piece of the body awaited ``seconds`` at most, and the whole body
    ``seconds`` plus a second per KiB it declares: a client that declares a body and stops
    sending it, or trickles it (a slow-loris), is answered 408 and cut off, not held on to
    with a connection and a task. Once the body is whole, what follows (the wait for a
    disconnect) is not bounded."""
    whole = False
    deadline: float | None = None

    async def receive_within() -> ReceiveMessage:
        nonlocal whole, deadline
        if whole:
            return await receive()
        now = asyncio.get_running_loop().time()
        if deadline is None:
            deadline = now + seconds + _declared_length(scope) / MIN_BODY_RATE
        try:
            async with asyncio.timeout(min(seconds, max(deadline - now, 0.0))):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                status_code=REQUEST_TIMEOUT,
                detail=f"the request body stopped arriving, or came slower than "
                f"{MIN_BODY_RATE} bytes a second",
                headers={"Connection": "close"},
            ) from None
        whole = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_within


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


Observe = Callable[[str, str | None, int, float], None]
"""Told of each answered request: method, route template, status and seconds."""


def _unobserved(method: str, route: str | None, status: int, seconds: float) -> None:
    return None


class RequestContextMiddleware:
    """Wraps the whole application, routing errors included, so no response escapes it.

    Binds the request id to every log line written while the request runs,
    adds ``X-Request-ID`` to the response, counts the request in the metrics and writes
    one access-log line with method, route template, status and duration. Runs the request in a
    ``request_scope``, where its caller and its use case may share a connection.
    """

    def __init__(
        self,
        app: ASGIApp,
        observe: Observe | None = observe_request,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        """``observe`` counts each answered request (``None``: metrics are off);
        ``body_timeout`` bounds each wait for a piece of the request's body."""
        self._app = app
        self._observe = observe or _unobserved
        self._body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500

        # not a coroutine itself: it hands back the server's ``send`` to await, rather than
        # adding a coroutine of its own to each message
        def send_with_id(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_request_id(message.get("headers", ()), request_id)
            return send(message)

        binding = bind_request_id(request_id)
        # opened and closed without a coroutine each, as ``async with`` would cost
        connections = request_scope().open()
        try:
            await self._app(scope, _body_within(receive, self._body_timeout, scope), send_with_id)
        finally:
            leftover = connections.close()
            try:
                seconds = time.perf_counter() - started
                method, route = scope["method"], scope.get("path_template")
                self._observe(method, route, status, seconds)
                log_request(
                    method=method,
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            finally:
                unbind_request_id(binding)
                if leftover is not None:
                    await leftover
