"""Shared fixtures: a real PostgreSQL server and fresh databases on it.

The server is ``THEDATA_TEST_DATABASE_URL`` when set (any libpq URL with the
right to create databases), else an embedded PostgreSQL started for this
test run in a temporary folder. Each test that asks for ``database_url`` gets
a database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
import stamina
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from tests.faults import PartitionableProxy
from thedata.adapters.observability import KNOWN_SECRETS, configure_logging, flush_logs
from thedata.adapters.postgres import EmbeddedPostgres, PostgresMigrator, load_migrations, open_pool
from thedata.entrypoints.config import Settings

TEST_DATABASE_PREFIX = f"thedata_test_{uuid.uuid4().hex[:8]}_"


@pytest.fixture(scope="session", autouse=True)
def _fast_retries() -> Iterator[None]:
    """Retries are switched to one attempt so tests see failures at once, not after backoff."""
    with stamina.set_testing(True, attempts=1):
        yield


@contextmanager
def embedded_server(purpose: str) -> Iterator[str]:
    """A PostgreSQL server of its own for this test run, in a folder outside pytest's tmp tree
    (pytest prunes old runs' folders there, which would stop a concurrent run's server)."""
    folder = Path(tempfile.mkdtemp(prefix=f"thedata-{purpose}-"))
    server = EmbeddedPostgres(folder / "data", database="postgres")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A libpq URL of a server on which the tests may create and drop databases."""
    configured = os.environ.get("THEDATA_TEST_DATABASE_URL")
    if configured:
        yield configured
        _drop_leftovers(configured)
        return
    with embedded_server("control") as url:
        yield url


@pytest.fixture(scope="session")
def source_server_url() -> Iterator[str]:
    """Another server, for connectors to read: the control database's server never is one."""
    with embedded_server("sources") as url:
        yield url


def _drop_leftovers(server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (TEST_DATABASE_PREFIX + "%",),
        ).fetchall()
        for (name,) in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def new_database(server_url: str, label: str = "") -> Iterator[str]:
    """A new, empty database on ``server_url`` (its name marked as the tests'), dropped after."""
    name = TEST_DATABASE_PREFIX + label + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A new, empty database for this test only."""
    with new_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def source_database_url(source_server_url: str) -> Iterator[str]:
    """A new database on the sources' server, for connectors to read."""
    with new_database(source_server_url, "source_") as url:
        yield url


@asynccontextmanager
async def pool_on(database_url: str, **overrides: Any) -> AsyncIterator[AsyncConnectionPool]:
    """The service's pool on ``database_url``, with small sizes and short timeouts."""
    options: dict[str, Any] = {
        "min_size": 1,
        "max_size": 2,
        "connect_timeout": 2,
        "statement_timeout": 5,
        "acquire_timeout": 2,
        "startup_timeout": 0,
    }
    resource = open_pool(database_url, **(options | overrides))
    pool = await anext(resource)
    try:
        yield pool
    finally:
        await resource.aclose()


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A local TCP port nothing listens on right now, and never the same one twice in this
    process: two servers of one test asked for a port each must not be told the same (the
    kernel may well offer a port again once its probe is closed)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


# A fixed key ring for tests that use an external database (which needs one configured).
TEST_SECRET_KEYS = "1:" + base64.urlsafe_b64encode(bytes(range(32))).decode()


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: the defaults, with short timeouts, overridden by ``overrides``."""
    values: dict[str, Any] = {
        "db_startup_timeout": 0,
        "db_connect_timeout": 2.0,
        "secret_keys": TEST_SECRET_KEYS,
        # the test servers are on loopback: the single-user mode (tests of the multi-tenant
        # default set it back to false)
        "connector_allow_private_networks": True,
    }
    values.update(overrides)
    return msgspec.convert(values, Settings)


@pytest.fixture
async def migrated_database_url(database_url: str) -> str:
    """A new database with every packaged migration applied."""
    migrator = PostgresMigrator(database_url, load_migrations(), connect_timeout=5)
    await migrator.migrate()
    return database_url


@contextmanager
def tcp_endpoint(database_url: str) -> Iterator[tuple[str, int, str, str]]:
    """``database_url``'s server reached over local TCP: (host, port, database, user).

    Connectors speak TCP only; the embedded test server listens on a Unix socket,
    so a relaying proxy stands in front of it (or of a TCP server alike).
    """
    with proxied_endpoint(database_url) as (endpoint, _proxy):
        yield endpoint


@contextmanager
def proxied_endpoint(
    database_url: str,
) -> Iterator[tuple[tuple[str, int, str, str], PartitionableProxy]]:
    """``tcp_endpoint``, with the proxy in front of it for a test to partition or choke."""
    parts = conninfo_to_dict(database_url)
    host, port = str(parts.get("host") or "localhost"), int(parts.get("port") or 5432)
    if host.startswith("/"):
        socket_path = str(Path(host) / f".s.PGSQL.{port}")
        proxy = PartitionableProxy(lambda: asyncio.open_unix_connection(socket_path))
    else:
        proxy = PartitionableProxy(lambda: asyncio.open_connection(host, port))
    proxy.start()
    try:
        endpoint = (
            "127.0.0.1",
            proxy.port,
            str(parts["dbname"]),
            str(parts.get("user") or "postgres"),
        )
        yield endpoint, proxy
    finally:
        proxy.stop()


class _LogCapture(io.StringIO):
    """What the process logs; reading it first writes the access lines that wait for the
    event loop's next turn, so a test sees every request it has made."""

    def getvalue(self) -> str:
        flush_logs()
        return super().getvalue()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Capture the process's log output as JSON, as production writes it; what earlier tests'
    secret stores remembered (hypothesis makes up short values) is forgotten first."""
    KNOWN_SECRETS.clear()
    stream = _LogCapture()
    configure_logging(log_format="json", level="info", stream=stream)
    yield stream
    configure_logging(log_format="console", level="warning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches PostgreSQL (through any fixture) carries the ``postgres`` marker.

    Marked here from the fixtures it uses rather than by hand, so that
    ``-m "not postgres"`` runs exactly the tests that need no server.
    """
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "postgres_server_url" in fixtures or "source_server_url" in fixtures:
            item.add_marker(pytest.mark.postgres)
