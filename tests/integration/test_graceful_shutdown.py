"""SIGTERM drains: a request in flight still gets its answer, and the pool closes after it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.test_cli import clean_env, get, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_sigterm_lets_the_request_in_flight_finish(database_url: str, tmp_path: Path) -> None:
    """The answer to a request started before SIGTERM arrives whole; then everything closes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("slow_server.py")), str(port)],
        cwd=tmp_path,
        env=clean_env(THEDATA_DATABASE_URL=database_url, THEDATA_LOG_FORMAT="json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[tuple[int, bytes]] = []
    try:
        wait_ready(base, process)
        client = threading.Thread(target=lambda: answers.append(get(base + "/slow")[::2]))
        client.start()
        time.sleep(0.5)  # the request is now being served
        process.send_signal(signal.SIGTERM)
        client.join(timeout=20)
    finally:
        _, stderr = process.communicate(timeout=30)
    assert answers == [(200, b'{"done":true}')]
    events = [json.loads(line) for line in stderr.splitlines() if line]
    order = [e["event"] for e in events if e["event"] in {"request", "database pool closed"}]
    assert order[-2:] == ["request", "database pool closed"], "the pool closes after the drain"
