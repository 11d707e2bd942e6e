"""Typed bridges from the container on ``app.state`` to handler parameters."""

from __future__ import annotations

from typing import Any, Protocol

from litestar.datastructures import State

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


async def provide_check_readiness(state: State) -> CheckReadiness:
    """The readiness use case, built by the container."""
    return await resolve(container_of(state).check_readiness)
