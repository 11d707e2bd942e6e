"""The README's quick start and first run, as a user runs them: the quick start's `./dev serve`
line as written (the service with its worker, on an embedded PostgreSQL) and the curl
walk-through `examples/first-run.sh` against it, end to end."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.test_cli import ROOT, clean_env, server_home, stop, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["server_home"]  # the fixture


def quick_start_serve(home: Path) -> tuple[subprocess.Popen[str], str]:
    """The README quick start's serve line, run as written from the repository's root; its
    state in ``home`` and its port free (a person's would be the defaults)."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    (line,) = [line for line in block.splitlines() if line.startswith("./dev serve")]
    port = free_port()
    process = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=ROOT,
        env=clean_env(
            THEDATA_HOME=str(home / "state"),
            THEDATA_PORT=str(port),
            THEDATA_LOG_FORMAT="json",
            THEDATA_SECRET_KEYS="",  # as on a fresh machine: the service makes its key file
            # ./dev installs only when pyproject.toml changed since its last install (./dev
            # test, which runs this, has just checked): never from the network in a test
            PIP_NO_INDEX="1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.skipif(shutil.which("jq") is None, reason="the walk-through needs jq")
def test_the_first_run_walk_through_moves_the_rows(server_home: Path) -> None:
    process, base = quick_start_serve(server_home)
    try:
        wait_ready(base, process)
        walk = subprocess.run(
            ["bash", str(ROOT / "examples" / "first-run.sh")],
            env={
                "PATH": "/usr/bin:/bin",
                "BASE": base,
                "DATA": str(server_home / "state" / "data"),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        code, _ = stop(process)
    assert walk.returncode == 0, walk.stdout + walk.stderr
    assert '"status": "succeeded"' in walk.stdout
    assert walk.stdout.rstrip().endswith('id,name,amount\n1,apples,1.50\n2,"pears, green",2.25')
    assert code == 0
