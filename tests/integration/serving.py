"""A real ``thedata serve`` (API and its worker) on a free loopback port, for tests that
drive it over HTTP: its log (JSON) goes to a file the test can read."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import free_port
from tests.integration.test_cli import THEDATA, clean_env


def serve(
    database_url: str, data_root: Path, log_file: Path, **settings: str
) -> tuple[subprocess.Popen[str], str]:
    """The started process and its base URL (not yet ready: see ``wait_ready``); real
    Argon2id at its smallest cost, and ``settings`` as THEDATA_* variables."""
    port = free_port()
    process = subprocess.Popen(
        [*THEDATA, "serve", "--port", str(port)],
        cwd=log_file.parent,
        env=clean_env(
            THEDATA_DATABASE_URL=database_url,
            THEDATA_DATA_ROOT=str(data_root),
            THEDATA_LOG_FORMAT="json",
            THEDATA_PASSWORD_HASH_MEMORY_KIB="8",
            THEDATA_PASSWORD_HASH_ITERATIONS="1",
            **settings,
        ),
        stdout=subprocess.DEVNULL,
        stderr=log_file.open("w"),
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"
