"""The layering is enforced: the contracts hold, and a planted violation breaks the right one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LAYERS = ("domain", "application", "adapters", "entrypoints")
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, str(config)],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_keeps_every_contract(tmp_path: Path) -> None:
    """As committed, every import-linter contract is kept."""
    copy = copy_as(tmp_path, "planted")
    result = lint_imports(tmp_path, copy)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def copy_as(tmp_path: Path, namespace: str) -> Path:
    """Copy the four layers under ``namespace`` (so the installed thedata cannot interfere)."""
    for layer in LAYERS:
        shutil.copytree(
            ROOT / layer,
            tmp_path / namespace / layer,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    for source in (tmp_path / namespace).rglob("*.py"):
        source.write_text(source.read_text().replace("thedata.", f"{namespace}."))
    config = tmp_path / "importlinter.ini"
    config.write_text((ROOT / "importlinter.ini").read_text().replace("thedata.", f"{namespace}."))
    return config


@pytest.mark.parametrize(
    ("module", "planted_import", "broken_contract"),
    [
        ("domain/errors.py", "import litestar", "Domain and application import no infrastructure"),
        (
            "application/health.py",
            "import psycopg",
            "Domain and application import no infrastructure",
        ),
        ("domain/errors.py", "import planted.adapters.postgres", "Layers"),
        ("application/errors.py", "import planted.entrypoints.container", "Layers"),
        ("adapters/postgres/pool.py", "import planted.adapters.memory", "Adapter packages"),
        ("entrypoints/http/app.py", "import dependency_injector", "Only the composition root"),
        (
            "entrypoints/cli/main.py",
            "import planted.adapters.postgres",
            "Only the composition root names adapters",
        ),
        (
            "entrypoints/config/settings.py",
            "import planted.adapters.secrets",
            "Only the composition root names adapters",
        ),
        (
            "entrypoints/http/app.py",
            "import planted.adapters.memory",
            "Only the composition root names adapters",
        ),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, planted_import: str, broken_contract: str
) -> None:
    """CI fails when someone imports across the hexagon's walls."""
    config = copy_as(tmp_path, "planted")
    target = tmp_path / "planted" / module
    target.write_text(target.read_text() + f"\n{planted_import}  # planted violation\n")
    result = lint_imports(tmp_path, config)
    assert result.returncode != 0
    assert re.search(rf"^{re.escape(broken_contract)}.* BROKEN\b", result.stdout, re.MULTILINE), (
        result.stdout
    )
