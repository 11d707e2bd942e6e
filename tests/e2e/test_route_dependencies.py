"""Every handler's use cases come from the real container, of the type the handler declares."""

from __future__ import annotations

import inspect
from typing import get_type_hints

from litestar import Litestar
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.api import Client, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.application.use_cases import Authenticate
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app
from thedata.entrypoints.http.dependencies import ServiceContainer

USE_CASES = "thedata.application.use_cases"


def offered_use_cases() -> set[type]:
    """The use cases ``ServiceContainer`` lists for routes (``authenticate`` serves the guard)."""
    members = [getattr(ServiceContainer, name) for name in dir(ServiceContainer)]
    kinds = {get_type_hints(m).get("return") for m in members if inspect.isfunction(m)}
    return {k for k in kinds if inspect.isclass(k) and k.__module__.startswith(USE_CASES)} - {
        Authenticate
    }


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
    """Each parameter typed with a use case gets an instance of that class (one per app)."""
    app = client.app
    resolved = set()
    for handler in handlers(app):
        dependencies: dict[str, Provide] = handler.resolve_dependencies()
        for name, parameter in handler.parsed_fn_signature.parameters.items():
            kind = parameter.annotation
            if not (inspect.isclass(kind) and kind.__module__.startswith(USE_CASES)):
                continue
            assert name in dependencies, f"{handler}: no provider for {name}"
            provide = dependencies[name]
            # a caller's use case waits for the principal, which it does not look at
            given = {"principal": None} if "principal" in provide.signature_model._fields else {}
            use_case = await provide.dependency(state=app.state, **given)
            assert isinstance(use_case, kind), f"{handler}: {name} is a {type(use_case)}"
            resolved.add(kind)
    # and the protocol lists no use case that no route asks for
    assert resolved == offered_use_cases()


async def test_an_app_run_twice_builds_its_use_cases_again(database_url: str) -> None:
    """Use cases are built once per run of the app: after a restart of the same app they
    use the new run's pool, not the closed one (a 503 on every route otherwise)."""
    app = create_app(build_container(make_settings(database_url=database_url, **CHEAP_HASHING)))
    for run in range(2):
        async with AsyncTestClient(app) as client:
            headers, _ = await register(client, f"ada{run}@x.io")
            me = await client.get("/v1/users/me", headers=headers)
            assert me.status_code == 200, (run, me.text)
