"""Connects the container's lifecycle to the application's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from thedata.entrypoints.container.edge import sampling_metrics
from thedata.entrypoints.http.dependencies import ServiceContainer
from thedata.entrypoints.resolve import maybe_await, resolve

log = structlog.get_logger(__name__)


class ContainerPlugin(InitPluginProtocol):
    """Puts the container on ``app.state`` and runs its resources for the app's lifetime.

    Start-up opens the database (starting the embedded one if configured so),
    applies pending migrations when ``migrate_on_start`` is set, and only then
    lets requests in; shutdown closes everything in reverse order.
    """

    def __init__(self, container: ServiceContainer, *, open_resources: bool = True) -> None:
        self._container = container
        self._open_resources = open_resources

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the container and the lifespan with the app being built."""
        app_config.state["container"] = self._container
        app_config.lifespan = [*app_config.lifespan, self._lifespan]
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        # use cases are built once per run of the app (``dependencies.built``): a second run
        # builds them again, on the resources (the pool) of that run
        app.state.pop("built", None)
        try:
            if not self._open_resources:  # whoever built the app runs the container
                yield
                return
            container = self._container
            try:
                await maybe_await(container.init_resources())
                await apply_pending_migrations(container)
                async with sampling_metrics(container):
                    log.info("ready to serve")
                    yield
            finally:
                await maybe_await(container.shutdown_resources())
                log.info("stopped")
        finally:
            app.state.pop("built", None)


async def apply_pending_migrations(container: ServiceContainer) -> None:
    """Migrate the database now if the settings ask for it at start-up."""
    if container.settings().migrate_on_start:
        migrator = await resolve(container.migrator)
        applied = await migrator.migrate()
        log.info("migrations checked", applied=[m.file_name for m in applied])
