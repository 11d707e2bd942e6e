"""The README's library example runs as written, in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TEST_SECRET_KEYS, tcp_endpoint

README = Path(__file__).parents[2] / "README.md"

pytestmark = pytest.mark.postgres


def example_under(heading: str) -> str:
    """The first Python block after ``heading`` in the README."""
    section = README.read_text().split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"the README lost its example under {heading!r}"
    return match.group(1)


def run_example(
    code: str, tmp_path: Path, settings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``code`` run as a script in a process of its own, with only ``settings`` for THEDATA_*."""
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
    env |= {"THEDATA_LOG_LEVEL": "warning", "THEDATA_SECRET_KEYS": TEST_SECRET_KEYS} | settings
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_library_example_runs_and_reports_ready(database_url: str, tmp_path: Path) -> None:
    """Copying the example into a file and running it prints the readiness verdict: warn,
    since no worker runs beside it (the database and the secret store pass)."""
    example = example_under("## Use it as a library")
    result = run_example(example, tmp_path, {"THEDATA_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ready: warn"


def test_the_engine_example_moves_the_rows(
    database_url: str, source_database_url: str, tmp_path: Path
) -> None:
    """With its two connection lines pointed at real databases, the example moves the rows."""
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)"
        )
        connection.execute("INSERT INTO orders SELECT n, now() FROM generate_series(1, 25) n")
        connection.execute("CREATE SCHEMA warehouse_target")
    example = example_under("## Move data from Python")
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        points = {"host": host, "port": port, "database": database, "user": user}
        example = re.sub(r"^SOURCE = .*$", f"SOURCE = {points!r}", example, flags=re.MULTILINE)
        target = points | {"schema": "warehouse_target"}
        example = re.sub(
            r"^DESTINATION = .*$", f"DESTINATION = {target!r}", example, flags=re.MULTILINE
        )
        result = run_example(
            example,
            tmp_path,
            {
                "THEDATA_DATABASE_URL": database_url,
                "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",
                "THEDATA_DATA_ROOT": str(tmp_path / "data"),
            },
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "rows moved: 25"
