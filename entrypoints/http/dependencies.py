"""Typed bridges from the container on ``app.state`` to handler parameters."""

from __future__ import annotations

from typing import Any, Protocol

from litestar.datastructures import State
from litestar.di import Provide

from thedata.application.use_cases import CheckReadiness
from thedata.entrypoints.config import Settings
from thedata.entrypoints.resolve import resolve


class ServiceContainer(Protocol):
    """What the HTTP edge needs of the composition root (kept free of dependency_injector)."""

    def settings(self) -> Settings:
        """The validated settings."""
        ...

    def check_readiness(self) -> CheckReadiness:
        """The readiness use case."""
        ...

    def authenticate(self) -> Any:
        """The use case that resolves credentials (may return an awaitable)."""
        ...

    def migrator(self) -> Any:
        """The schema migrator, for ``migrate_on_start``."""
        ...

    def init_resources(self) -> Any:
        """Open pools and servers (returns an awaitable)."""
        ...

    def shutdown_resources(self) -> Any:
        """Close what ``init_resources`` opened (returns an awaitable)."""
        ...


def container_of(state: State) -> ServiceContainer:
    """The container the plugin put on the application state."""
    container: ServiceContainer = state["container"]
    return container


def provide_use_case(name: str) -> Provide:
    """A Litestar dependency that builds the container's use case ``name`` per request.

    Handlers annotate the parameter with the use case's class; the container
    decides which adapters it gets.
    """

    async def provide(state: State) -> Any:
        return await resolve(getattr(container_of(state), name))

    provide.__name__ = f"provide_{name}"
    return Provide(provide)


def use_cases(*names: str) -> dict[str, Provide]:
    """Dependencies for the named use cases, for a controller's ``dependencies``."""
    return {name: provide_use_case(name) for name in names}
