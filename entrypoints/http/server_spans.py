"""A server span per request, when the service traces (OpenTelemetry's HTTP conventions).

Named ``{method} {route template}`` (``GET /v1/orgs/{org_id}/runs``), a child of the
caller's trace when the request carries a W3C ``traceparent``. Attributes are the stable
HTTP server ones; never the query string, a header's value other than the user agent, or
a body.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from thedata.entrypoints.http.request_context import Observe, RequestContextMiddleware

_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class TracedRequestContextMiddleware(RequestContextMiddleware):
    """``RequestContextMiddleware`` inside a server span: every span and log line of the
    request (its database statements, its access line) belongs to the request's trace."""

    def __init__(
        self, app: ASGIApp, tracer: Tracer, observe: Observe | None, body_timeout: float
    ) -> None:
        super().__init__(app, observe, body_timeout)
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await super().__call__(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        parent = propagate.extract(headers)
        method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
        span = self._tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=_attributes(scope, headers)
        )
        status = 500

        def status_seen(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await super().__call__(scope, receive, status_seen)
        finally:
            route = scope.get("path_template")
            if route:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(status))
            span.end()
            otel_context.detach(token)


def _attributes(scope: HTTPScope, headers: dict[str, str]) -> dict[str, Any]:
    method = scope["method"]
    attributes: dict[str, Any] = {
        "http.request.method": method if method in _METHODS else "_OTHER",
        "url.scheme": scope.get("scheme", "http"),
        "url.path": scope["path"],
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if method not in _METHODS:
        attributes["http.request.method_original"] = method
    server = scope.get("server")
    if server:
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    agent = headers.get("user-agent")
    if agent:
        attributes["user_agent.original"] = agent
    return attributes
