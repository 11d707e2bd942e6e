"""Every handler's use cases come from the real container, of the type the handler declares."""

from __future__ import annotations

import inspect

from litestar import Litestar
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler

from tests.e2e.api import Client

USE_CASES = "thedata.application.use_cases"


def handlers(app: Litestar) -> list[HTTPRouteHandler]:
    """Every HTTP route handler of the app (Litestar's own OPTIONS handlers included)."""
    return [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler)
    ]


async def test_every_handler_resolves_its_use_cases_against_the_real_container(
    client: Client,
) -> None:
    """Each parameter typed with a use case gets an instance of that class, built per request."""
    app = client.app
    resolved = set()
    for handler in handlers(app):
        dependencies: dict[str, Provide] = handler.resolve_dependencies()
        for name, parameter in handler.parsed_fn_signature.parameters.items():
            kind = parameter.annotation
            if not (inspect.isclass(kind) and kind.__module__.startswith(USE_CASES)):
                continue
            assert name in dependencies, f"{handler}: no provider for {name}"
            use_case = await dependencies[name].dependency(state=app.state)
            assert isinstance(use_case, kind), f"{handler}: {name} is a {type(use_case)}"
            resolved.add(kind)
    # every use case a controller names, so a rename cannot empty the check unnoticed
    assert len(resolved) == 30, sorted(kind.__name__ for kind in resolved)
