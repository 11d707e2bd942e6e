"""The whole service: every feature's providers in one container, and its life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from thedata.adapters.observability import route_to_stdlib_logging
from thedata.adapters.secrets import KeyRingError, parse_key_ring
from thedata.entrypoints.config import (
    ConfigurationError,
    Settings,
    load_settings,
    validate_settings,
)
from thedata.entrypoints.container.catalog import Catalog
from thedata.entrypoints.container.identity import Identity
from thedata.entrypoints.container.resources import sampling_metrics
from thedata.entrypoints.resolve import maybe_await


class Container(Catalog, Identity):
    """Every service of theData.io, built lazily; resources open in ``init_resources``.

    Each feature declares its providers in a container of its own on top of
    ``Infrastructure`` (runs will add theirs the same way); this one joins them,
    so every provider has one flat name (``container.create_pipeline``).
    """


@asynccontextmanager
async def started(container: Container) -> AsyncIterator[Container]:
    """Open the container's resources for the ``async with`` block and close them after it."""
    await maybe_await(container.init_resources())
    try:
        async with sampling_metrics(container):
            yield container
    finally:
        await maybe_await(container.shutdown_resources())


def build_container(settings: Settings | None = None) -> Container:
    """A container for ``settings``, or for the environment's settings when none are given.

    Settings built in code are validated like those read from the environment
    (``ConfigurationError`` if they break a constraint). Nothing connects yet:
    call ``await container.init_resources()`` first and
    ``await container.shutdown_resources()`` when done.
    """
    valid = validate_settings(settings) if settings is not None else load_settings()
    if valid.secret_keys is not None:
        try:  # the key ring's format is the secrets adapter's to judge, before anything starts
            parse_key_ring(valid.secret_keys)
        except KeyRingError as e:
            raise ConfigurationError(str(e)) from None
    route_to_stdlib_logging()
    return Container(settings=valid)
