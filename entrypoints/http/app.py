"""The Litestar application factory."""

from __future__ import annotations

from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version

from litestar import Litestar
from litestar.routes import HTTPRoute

from thedata.application.idempotency import Replayed
from thedata.entrypoints.container.edge import flush_logs, observe_request, trace_requests
from thedata.entrypoints.http.controllers import CONTROLLERS
from thedata.entrypoints.http.dependencies import ServiceContainer
from thedata.entrypoints.http.docs import docs_assets_router, openapi_config
from thedata.entrypoints.http.health import HealthController
from thedata.entrypoints.http.idempotency import replay_response
from thedata.entrypoints.http.json_body import JsonRequest, refuse_unread_body
from thedata.entrypoints.http.metrics import MetricsController
from thedata.entrypoints.http.openapi_examples import operation_class, operation_examples
from thedata.entrypoints.http.openapi_structs import ExactStructSchemaPlugin
from thedata.entrypoints.http.plugin import ContainerPlugin
from thedata.entrypoints.http.problems import BODY_PROBLEMS, EXCEPTION_HANDLERS
from thedata.entrypoints.http.request_context import RequestContextMiddleware
from thedata.entrypoints.http.server_spans import TracedRequestContextMiddleware


def _package_version() -> str:
    try:
        return version("thedata")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def create_app(container: ServiceContainer, *, open_resources: bool = True) -> Litestar:
    """Build the HTTP API around ``container``.

    By default the app's lifespan opens the container's resources (and applies
    migrations) before the first request and closes them after the last. Pass
    ``open_resources=False`` when the caller runs the container around the app.
    """
    settings = container.settings()
    metrics = [MetricsController] if settings.metrics else []
    app = Litestar(
        route_handlers=[HealthController, *metrics, *CONTROLLERS, docs_assets_router()],
        plugins=[
            ContainerPlugin(container, open_resources=open_resources),
            ExactStructSchemaPlugin(),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, Replayed: replay_response},
        guards=[refuse_unread_body],
        openapi_config=openapi_config(_package_version()),
        request_max_body_size=settings.max_body_bytes,
        request_class=JsonRequest,  # JSON nested too deep is a 400, not a 500
        # logging is configured once per process by the CLI (or the embedding program)
        logging_config=None,
        on_shutdown=[flush_logs],  # the last requests' access lines, before the process ends
    )
    _answer_options_with_every_method(app)
    _document_body_problems(app)
    _document_examples(app)
    # Litestar's middleware runs per route, so unrouted requests (404, 405) would
    # miss it; wrapping the app's outermost handler covers every response.
    observe = observe_request if settings.metrics else None
    tracer = container.tracer()
    if tracer is None:
        app.asgi_handler = RequestContextMiddleware(
            app.asgi_handler, observe, settings.body_timeout
        )
    else:  # a class of its own: not tracing costs the hot path nothing
        trace_requests()
        app.asgi_handler = TracedRequestContextMiddleware(
            app.asgi_handler, tracer, observe, settings.body_timeout
        )
    return app


def _document_body_problems(app: Litestar) -> None:
    """Every route that reads a JSON body may also answer 408 (a body that stalls), 413 (one
    too large) and 415 (one that is not JSON): the document says so on each of them. An
    action that reads none refuses one with fields (``refuse_unread_body``)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "data" in handler.parsed_fn_signature.parameters:
                handler.responses = {**BODY_PROBLEMS, **(handler.responses or {})}
            elif handler.http_methods == {"GET"} and handler.responses:
                # a read changes nothing, so it conflicts with nothing
                handler.responses = {
                    status: spec
                    for status, spec in handler.responses.items()
                    if status != HTTPStatus.CONFLICT
                }


def _document_examples(app: Litestar) -> None:
    """Each operation's document shows its examples (``openapi_examples``): its request
    bodies, its success answers and a problem for each error it may answer."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            for method in handler.http_methods:  # one each: a class would serve only one
                examples = operation_examples(method, route.path_format)
                handler.operation_class = operation_class(examples)


def _answer_options_with_every_method(app: Litestar) -> None:
    """Litestar 2's automatic OPTIONS answer lists only the methods of the first handlers
    registered at a path (litestar-org/litestar#4169, fixed in 3): when a second controller
    adds methods there, the route is rebuilt but its OPTIONS handler still reads the old
    route's methods. Point each at its own route, so ``Allow`` names every method."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        for cell in handler.fn.__closure__ or ():
            if isinstance(cell.cell_contents, HTTPRoute) and cell.cell_contents is not route:
                cell.cell_contents = route
