"""No example in the documentation goes stale silently: every block a reader would run (sh,
bash, python, sql) is run by a test, named here or beside the block, and that test exists.

A page run whole by one test is listed in ``WHOLE_PAGES``. In any other page, each such block
follows a ``<!-- run by: tests/….py::test_… -->`` line naming its test. Blocks that only show
output or shapes use ``text``, ``json``, ``console`` or no language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), ROOT / "benchmarks" / "README.md"]
)
RUNNABLE = {"sh", "bash", "shell", "python", "sql"}
WHOLE_PAGES = {
    "docs/api.md": "tests/integration/test_api_guide.py"
    "::test_the_api_guide_runs_as_written_and_moves_the_rows",
    "docs/library.md": "tests/integration/test_library_guide.py"
    "::test_each_example_prints_what_the_page_says",
    "docs/errors.md": "tests/e2e/test_errors_doc.py"
    "::test_every_example_of_the_page_answers_as_shown",
    "docs/deployment.md": "tests/integration/test_deployment_guide.py"
    "::test_every_command_of_the_page_is_run_by_a_test",
    # its thedata commands parsed; its requests and its restore run as written; each
    # procedure's drills named in it and checked to exist
    "docs/recovery.md": "tests/unit/test_recovery_doc.py::test_every_thedata_command_shown_parses",
}
_FENCE = re.compile(r"^[ \t]*```(?P<lang>[a-z]*)[ \t]*$", re.MULTILINE)
_RUN_BY = re.compile(r"<!-- run by: (?P<tests>[^>]+?) -->\s*$")


def runnable_blocks(page: Path) -> list[tuple[int, str]]:
    """Each runnable block's line number and the text of the line before its fence."""
    lines = page.read_text().splitlines()
    blocks, inside = [], False
    for number, line in enumerate(lines):
        fence = _FENCE.fullmatch(line)
        if fence is None:
            continue
        if not inside and fence["lang"] in RUNNABLE:
            before = next((text for text in reversed(lines[:number]) if text.strip()), "")
            blocks.append((number + 1, before))
        inside = not inside
    return blocks


def exists(reference: str) -> bool:
    """``tests/….py::test_…`` names a test function of a file of the repository."""
    file, _, name = reference.strip().partition("::")
    path = ROOT / file
    if not path.is_file() or not name:
        return False
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in ast.walk(tree)
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_runnable_block_is_run_by_a_test_that_exists(page: Path) -> None:
    """Whole pages by their test; other blocks by the test named before each."""
    name = str(page.relative_to(ROOT))
    if name in WHOLE_PAGES:
        assert exists(WHOLE_PAGES[name]), f"{name}: no test {WHOLE_PAGES[name]}"
        return
    for line, before in runnable_blocks(page):
        marker = _RUN_BY.search(before)
        assert marker, f"{name}:{line}: a runnable block no test is named to run"
        for reference in marker["tests"].split(","):
            assert exists(reference), f"{name}:{line}: no test {reference.strip()}"


def test_whole_pages_hold_runnable_blocks() -> None:
    """A page listed as run whole still has something to run (else the entry is stale)."""
    for name in WHOLE_PAGES:
        assert runnable_blocks(ROOT / name), f"{name} has no runnable block: unlist it"
