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


def library_example() -> str:
    section = README.read_text().split("## Use it as a library", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its library example"
    return match.group(1)


def test_the_library_example_runs_and_reports_ready(database_url: str, tmp_path: Path) -> None:
    """Copying the example into a file and running it prints the readiness verdict."""
    script = tmp_path / "example.py"
    script.write_text(library_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
    env |= {
        "THEDATA_DATABASE_URL": database_url,
        "THEDATA_LOG_LEVEL": "warning",
        "THEDATA_SECRET_KEYS": TEST_SECRET_KEYS,
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ready: pass"


def engine_example() -> str:
    section = README.read_text().split("## Move data from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its engine example"
    return match.group(1)


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
    example = engine_example()
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        points = {"host": host, "port": port, "database": database, "user": user}
        example = re.sub(r"^SOURCE = .*$", f"SOURCE = {points!r}", example, flags=re.MULTILINE)
        target = points | {"schema": "warehouse_target"}
        example = re.sub(
            r"^DESTINATION = .*$", f"DESTINATION = {target!r}", example, flags=re.MULTILINE
        )
        script = tmp_path / "engine_example.py"
        script.write_text(example)
        env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
        env |= {
            "THEDATA_DATABASE_URL": database_url,
            "THEDATA_LOG_LEVEL": "warning",
            "THEDATA_SECRET_KEYS": TEST_SECRET_KEYS,
            "THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS": "true",
            "THEDATA_DATA_ROOT": str(tmp_path / "data"),
        }
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "rows moved: 25"
