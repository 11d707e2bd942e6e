"""What the providers build from the settings: the database, the key ring, folders, knobs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog

from thedata.adapters.observability.metrics import (
    BreakerSampler,
    PoolSampler,
    Sample,
    sample_every,
)
from thedata.adapters.postgres import EmbeddedPostgres
from thedata.adapters.secrets import (
    KeyRing,
    KeyRingError,
    create_key_file,
    load_key_file,
    parse_key_ring,
)
from thedata.domain.circuit_breaker import BreakerSettings
from thedata.entrypoints.config import Settings
from thedata.entrypoints.resolve import resolve

log = structlog.get_logger("thedata.entrypoints.container")


def embedded_data_dir(settings: Settings) -> Path:
    """Where the embedded PostgreSQL keeps its data."""
    return Path(settings.home) / "postgres"


@contextmanager
def running_database(settings: Settings) -> Iterator[str]:
    """The configured database's URL, or that of an embedded one running for the block."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(embedded_data_dir(settings))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


async def database_url(settings: Settings) -> AsyncIterator[str]:
    """``running_database`` as a container resource, from start-up to shutdown."""
    database = running_database(settings)
    # pgserver blocks while initdb and pg_ctl run; keep the event loop free meanwhile
    url = await asyncio.to_thread(database.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


KEY_FILE_NAME = "secret-keys"


def load_key_ring(settings: Settings) -> KeyRing:
    """The configured key ring, sealing with ``THEDATA_SECRET_SEALING_VERSION`` when set."""
    ring = _configured_ring(settings)
    version = settings.secret_sealing_version
    if version is None:
        return ring
    if version not in ring.keys:
        raise KeyRingError(
            f"THEDATA_SECRET_SEALING_VERSION: version {version} is not in the key ring"
        )
    return KeyRing(ring.keys, version)


def _configured_ring(settings: Settings) -> KeyRing:
    """The configured key ring; with the embedded database and none configured, a generated one.

    With an external database a generated key would seal secrets that other
    processes (and the next deployment) cannot open, so one must be configured.
    """
    if settings.secret_keys is not None:
        return parse_key_ring(settings.secret_keys)
    if settings.secret_key_file is not None:
        return load_key_file(Path(settings.secret_key_file))
    if settings.database_url is not None:
        raise KeyRingError(
            "THEDATA_SECRET_KEYS or THEDATA_SECRET_KEY_FILE is required with an external "
            "database; `thedata secrets generate-key` makes a key"
        )
    path = Path(settings.home) / KEY_FILE_NAME
    try:
        ring = create_key_file(path)
    except FileExistsError:
        return load_key_file(path)
    log.warning(
        "generated a secret key file for the embedded database; back it up, or set "
        "THEDATA_SECRET_KEYS",
        path=str(path),
    )
    return ring


def secret_file(settings: Settings) -> Path:
    """Where the file secret store keeps its document."""
    return Path(settings.secret_file or Path(settings.home) / "secrets.json")


def data_root(settings: Settings) -> Path:
    """The folder file data sources live under (created if missing)."""
    root = Path(settings.data_root or Path(settings.home) / "data")
    root.mkdir(parents=True, exist_ok=True)
    return root


def breaker_settings(settings: Settings) -> BreakerSettings:
    """Every data source's circuit breaker knobs, from the settings."""
    return BreakerSettings(
        failure_rate_threshold=settings.breaker_failure_rate,
        minimum_calls=settings.breaker_minimum_calls,
        window_size=settings.breaker_window,
        wait_in_open=settings.breaker_open_seconds,
        permitted_calls_in_half_open=settings.breaker_half_open_calls,
    )


def lease_of(settings: Settings) -> timedelta:
    """How long a worker's claim or renewal holds a run."""
    return timedelta(seconds=settings.worker_lease_seconds)


def ready_queue_wait_of(settings: Settings) -> timedelta:
    """How long a claimable run may wait before readiness warns, and operators call it stuck."""
    return timedelta(seconds=settings.ready_queue_wait)


def run_retention_of(settings: Settings) -> timedelta:
    """How long finished runs are kept."""
    return timedelta(days=settings.run_retention_days)


@contextlib.asynccontextmanager
async def sampling(samples: list[Sample], interval: float) -> AsyncIterator[None]:
    """``samples`` taken every ``interval`` seconds and at each scrape while the block runs
    (figures that are read, not counted: a pool's, the open breakers)."""
    tasks = [
        asyncio.create_task(sample_every(sample, interval), name="thedata-metrics-sample")
        for sample in samples
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        # waited for without taking their CancelledError as ours
        await asyncio.wait(tasks)


# often enough for a 15 s scrape interval to see each change; a scrape samples first anyway
SAMPLE_SECONDS = 5.0


@contextlib.asynccontextmanager
async def sampling_metrics(container: Any) -> AsyncIterator[None]:
    """While the block runs (the container's resources open), the figures that are read
    rather than counted are sampled: the database pool's and the open breakers (unless
    metrics are off)."""
    if not (await resolve(container.settings)).metrics:
        yield
        return
    pool = await resolve(container.pool)
    guard = await resolve(container.connector_guard)
    samples: list[Sample] = [PoolSampler(pool.get_stats), BreakerSampler(guard.open_by_kind)]
    async with sampling(samples, SAMPLE_SECONDS):
        yield
