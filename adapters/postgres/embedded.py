"""A PostgreSQL server of the process's own, for a first run with nothing installed."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger(__name__)


class EmbeddedPostgresUnavailable(Exception):
    """The embedded server cannot be started; the message says what to do instead."""


class EmbeddedPostgres:
    """Starts the ``pgserver`` PostgreSQL in ``data_dir`` and creates ``database`` in it.

    The server listens on a Unix socket only. Several processes may share one
    data folder: pgserver counts them and ``stop`` shuts the server down when the
    last one lets go.
    """

    def __init__(self, data_dir: Path, database: str = "thedata") -> None:
        self._data_dir = data_dir
        self._database = database
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server; return the libpq URL of ``database``."""
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver
                # then keeps its lock file under /tmp, which is what we want anyway
                warnings.simplefilter("ignore")
                # imported here: an optional extra, needed only without THEDATA_DATABASE_URL
                from pgserver.postgres_server import get_server
        except ImportError as e:
            raise EmbeddedPostgresUnavailable(
                "no THEDATA_DATABASE_URL is set and the embedded PostgreSQL is not installed; "
                "install `thedata[embedded]` or point THEDATA_DATABASE_URL at a server"
            ) from e
        self._data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self._data_dir, cleanup_mode="stop")
        except Exception as e:  # pgserver raises whatever initdb or pg_ctl raised
            raise EmbeddedPostgresUnavailable(
                f"the embedded PostgreSQL in {self._data_dir} did not start: {e}; "
                f"its log is {self._data_dir / 'log'}"
            ) from e
        self._ensure_database(self._server.get_uri())
        url: str = self._server.get_uri(self._database)
        log.info("embedded postgres started", data_dir=str(self._data_dir))
        return url

    def stop(self) -> None:
        """Let go of the server; the last process to do so shuts it down."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("embedded postgres released", data_dir=str(self._data_dir))

    def _ensure_database(self, admin_url: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self._database,)
            ).fetchone()
            if exists is None:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self._database))
                )
