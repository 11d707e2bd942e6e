"""What each ``thedata`` command does, once its arguments and settings are known."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import uvicorn
from psycopg.conninfo import conninfo_to_dict

from thedata.domain.runs import Run
from thedata.entrypoints.cli import event_loop
from thedata.entrypoints.cli.http_protocol import ProblemHttpToolsProtocol
from thedata.entrypoints.cli.openapi_document import render_openapi_document
from thedata.entrypoints.config import Settings, render_configuration_docs
from thedata.entrypoints.container import (
    KEY_FILE_NAME,
    build_container,
    embedded_data_dir,
    load_key_ring,
    running_database,
    serve_metrics,
    start_multiprocess_directory,
    started,
)
from thedata.entrypoints.heap import settle_heap
from thedata.entrypoints.http import create_app
from thedata.entrypoints.http.plugin import apply_pending_migrations
from thedata.entrypoints.resolve import maybe_await, resolve
from thedata.entrypoints.worker import Worker


def print_config_docs() -> int:
    """Print the settings reference (the source of docs/configuration.md)."""
    sys.stdout.write(render_configuration_docs())
    return 0


def print_openapi_document() -> int:
    """Print the OpenAPI document (the source of docs/openapi.json)."""
    sys.stdout.write(render_openapi_document())
    return 0


def check_config(settings: Settings) -> int:
    """Report the validated configuration, with the database named but no password shown."""
    if settings.database_url is None:
        database = f"embedded PostgreSQL in {embedded_data_dir(settings)}"
    else:
        parts = conninfo_to_dict(settings.database_url)
        host, port = parts.get("host", "localhost"), parts.get("port", 5432)
        database = f"{host}:{port}/{parts.get('dbname', '')}"
    print(f"configuration is valid; database: {database}; secret keys: {_keys(settings)}")  # noqa: T201
    return 0


def _keys(settings: Settings) -> str:
    if settings.secret_keys is None and settings.secret_key_file is None:
        if settings.database_url is not None:
            load_key_ring(settings)  # refuses, naming the missing setting
        return f"generated on first start in {Path(settings.home) / KEY_FILE_NAME}"
    ring = load_key_ring(settings)
    return f"{len(ring.keys)} (newest version {ring.current})"


def migrate(settings: Settings) -> int:
    """Apply pending migrations (starting the embedded database if needed) and list them."""
    applied = asyncio.run(_migrate(settings))
    if applied:
        for name in applied:
            print(f"applied {name}")  # noqa: T201
    else:
        print("the database schema is up to date")  # noqa: T201
    return 0


async def _migrate(settings: Settings) -> list[str]:
    container = build_container(settings)
    await maybe_await(container.database_url.init())
    try:
        migrator = await resolve(container.migrator)
        return [m.file_name for m in await migrator.migrate()]
    finally:
        await maybe_await(container.shutdown_resources())


def serve(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    with_worker: bool = True,
) -> int:
    """Serve the API until SIGTERM or Ctrl-C, then drain requests and close everything. With
    one process, a worker runs beside the API unless ``with_worker`` is false (with several,
    run ``thedata worker`` beside them)."""
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_config": None,  # our logging is already set up
        "timeout_graceful_shutdown": int(settings.shutdown_timeout),
        "server_header": False,
        # ours is written by the app; uvicorn's would still format its arguments per request
        "access_log": False,
        # the app names the client itself (THEDATA_CLIENT_ADDRESS_HEADER, else the peer);
        # uvicorn's default would take it from X-Forwarded-For whenever the peer is
        # loopback, letting a client on the host pick its own sign-in-limit address
        "proxy_headers": False,
        # httptools, with a problem detail for bytes that are not a request
        "http": ProblemHttpToolsProtocol,
    }
    with _stop_signals_end_cleanly():
        if workers == 1:
            return event_loop.run(_serve_in_process(settings, options, with_worker))
        return _serve_workers(settings, workers, options)


async def _serve_in_process(settings: Settings, options: dict[str, Any], with_worker: bool) -> int:
    # The command opens the container itself, rather than the app's lifespan, so
    # that a database that cannot be reached or migrated at start-up ends as one
    # readable line from the CLI instead of a lifespan traceback from the server.
    async with started(build_container(settings)) as container:
        await apply_pending_migrations(container)
        app = create_app(container, open_resources=False)
        settle_heap()
        server = uvicorn.Server(uvicorn.Config(app, **options))
        stopping = asyncio.Event()
        worker = (
            asyncio.create_task((await _worker(container, settings, 1)).run(stopping))
            if with_worker
            else None
        )
        try:
            await server.serve()
        finally:
            stopping.set()  # the server stopped (SIGTERM): the worker hands its runs back
            if worker is not None:
                await worker
        return 0 if server.started else 1


def work(settings: Settings, *, concurrency: int) -> int:
    """Claim and execute runs until SIGTERM or Ctrl-C, then hand back what is held."""
    return event_loop.run(_work(settings, concurrency))


async def _work(settings: Settings, concurrency: int) -> int:
    async with started(build_container(settings)) as container:
        await apply_pending_migrations(container)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        port = settings.worker_metrics_port
        try:
            stop_metrics = serve_metrics(settings.host, port) if port is not None else None
        except OSError as e:  # the port is taken, or the address is not this host's
            raise SystemExit(
                f"thedata: cannot serve metrics on {settings.host}:{port} "
                f"(THEDATA_WORKER_METRICS_PORT): {e.strerror or e}"
            ) from None
        try:
            await (await _worker(container, settings, concurrency)).run(stopping)
        finally:
            if stop_metrics is not None:
                stop_metrics()
    return 0


async def _worker(container: Any, settings: Settings, concurrency: int) -> Worker:
    queue = await resolve(container.run_queue)
    execute: Any = None

    async def on_first_run(run: Run, stopping: asyncio.Event) -> Run | None:
        # built when a run comes: connectors (and the data folder they make) only if needed
        nonlocal execute
        if execute is None:
            execute = await resolve(container.execute_run)
        ended: Run | None = await execute(run, stopping)
        return ended

    schedule = await resolve(container.enqueue_due_runs)
    housekeeping = await resolve(container.housekeeping)
    presence = await resolve(container.report_worker_presence)
    arrivals = await resolve(container.run_arrivals)
    return Worker(
        queue,
        on_first_run,
        schedule,
        housekeeping,
        presence,
        arrivals,
        metrics=await resolve(container.run_metrics),
        tracer=await resolve(container.tracer),
        concurrency=concurrency,
        grace=settings.shutdown_timeout,
    )


@contextmanager
def _stop_signals_end_cleanly() -> Iterator[None]:
    # uvicorn drains requests on SIGTERM/SIGINT, then re-raises the signal through
    # the handler that was in place before it started. Left at the default, that
    # kills the process after a clean shutdown (exit -15); this handler lets the
    # command finish and report success instead.
    def stopped(_signal: int, _frame: FrameType | None) -> None:
        return None

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_workers(settings: Settings, workers: int, options: dict[str, Any]) -> int:
    # One process owns the embedded database and the migrations; the workers
    # inherit the database's URL, connect to it like to any external server and
    # do not migrate again. uvicorn's supervisor handles signals, so it must run
    # on the main thread.
    if settings.secret_keys is None and settings.secret_key_file is None:
        # generated once here, so that every worker opens the same key file
        load_key_ring(settings)
        os.environ.update(THEDATA_SECRET_KEY_FILE=str(Path(settings.home) / KEY_FILE_NAME))
    with running_database(settings) as url:
        if settings.migrate_on_start:
            asyncio.run(_migrate(msgspec.structs.replace(settings, database_url=url)))
        os.environ.update(THEDATA_DATABASE_URL=url, THEDATA_MIGRATE_ON_START="false")
        # each worker keeps its metrics in files there; a scrape of any adds them all up
        metrics = (
            start_multiprocess_directory(Path(settings.home) / "metrics")
            if settings.metrics
            else None
        )
        try:
            uvicorn.run(
                "thedata.entrypoints.asgi:app_from_environment",
                factory=True,
                workers=workers,
                **options,
            )
        finally:
            if metrics is not None:
                shutil.rmtree(metrics, ignore_errors=True)
    return 0
