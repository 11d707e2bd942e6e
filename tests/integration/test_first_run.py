"""The README's first run, as a user runs it: `thedata serve` (with its worker) and the
curl walk-through `examples/first-run.sh` against it, end to end."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli import ROOT, serve, server_home, stop, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["server_home"]  # the fixture


@pytest.mark.skipif(shutil.which("jq") is None, reason="the walk-through needs jq")
def test_the_first_run_walk_through_moves_the_rows(server_home: Path) -> None:
    process, base = serve(server_home)
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
