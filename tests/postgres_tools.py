"""PostgreSQL's client programs (pg_dump, pg_restore, psql) of the version the tests' server
runs: an older pg_dump refuses a newer server, and a newer one writes dumps an older server
may not read. The tests' server is the embedded one (pgserver's own programs beside it)
unless THEDATA_TEST_DATABASE_URL names another (the system's programs, found on PATH)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest


def embedded_programs() -> Path | None:
    """pgserver's folder of PostgreSQL programs, if it is installed."""
    try:
        import pgserver
    except ImportError:
        return None
    folder = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def programs_path() -> str:
    """A PATH for commands the tests run: this virtualenv's ``thedata``, then the client
    programs of the tests' server, then the system's (psql, curl, jq, openssl...)."""
    folders = [str(Path(sys.executable).parent)]
    embedded = embedded_programs()
    if embedded is not None and not os.environ.get("THEDATA_TEST_DATABASE_URL"):
        folders.append(str(embedded))
    return ":".join([*folders, "/usr/bin", "/bin"])


def server_major(url: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.info.server_version // 10000


def postgres_program(name: str, url: str) -> str:
    """The path of ``name`` of the major version the server at ``url`` runs (skips the test
    when this machine has none)."""
    major = server_major(url)
    embedded = embedded_programs()
    candidates = [shutil.which(name, path=programs_path())]
    candidates += [str(embedded / name)] if embedded else []
    candidates += [str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")]
    for program in filter(None, candidates):
        if not Path(program).exists():
            continue
        said = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
        found = re.search(r"\) (\d+)", said.stdout)
        if found and int(found.group(1)) == major:
            return program
    pytest.skip(f"no {name} of PostgreSQL {major} on this machine")
