"""docs/recovery.md cannot go stale silently: every procedure the issue asks for is there,
each ends with drills that exist, and every ``thedata`` command it shows parses."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from thedata.entrypoints.cli.main import _parser

ROOT = Path(__file__).parents[2]
PAGE = (ROOT / "docs" / "recovery.md").read_text()
PROCEDURES = (
    "Stuck runs",
    "Lost workers",
    "Control database outage",
    "A failed migration",
    "A compromised token, API key, password or secret key",
    "Restore from a backup",
)


def sections() -> dict[str, str]:
    """Each ``## `` section's text, by heading."""
    parts = re.split(r"^## (.+)$", PAGE, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def drills(text: str) -> list[tuple[str, str]]:
    """The ``tests/….py::test_…`` references after "Proved by"."""
    proved = text.split("**Proved by**", 1)
    assert len(proved) == 2, "no **Proved by** in this section"
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", proved[1])


def test_every_procedure_has_a_section() -> None:
    """The procedures of the issue, in this order."""
    assert tuple(sections()) == PROCEDURES


@pytest.mark.parametrize("heading", PROCEDURES)
def test_every_procedure_is_proved_by_drills_that_exist(heading: str) -> None:
    """Each named drill is a test function in a test file of the repository."""
    named = drills(sections()[heading])
    assert named, f"{heading}: no drill named"
    for file, test in named:
        path = ROOT / file
        assert path.is_file(), f"{heading}: {file} does not exist"
        functions = {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert test in functions, f"{heading}: {file} has no {test}"


def thedata_commands() -> list[list[str]]:
    """Each ``thedata …`` line of the page's shell blocks, split as the shell would (a
    comment after it dropped)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", PAGE, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before it
                words = words[1:]
            if words[:1] == ["thedata"]:
                commands.append(words[1 : words.index("|")] if "|" in words else words[1:])
    return commands


def test_every_thedata_command_shown_parses() -> None:
    """As the command line's own parser reads it; the page shows at least the run
    commands, the worker and the key rotation."""
    commands = thedata_commands()
    for words in commands:
        _parser().parse_args(words)
    shown = {" ".join(words[:2]) for words in commands}
    assert {"runs list", "runs retry", "worker", "workers", "migrate"} <= shown | {
        words[0] for words in commands
    }
    assert {"secrets rotate-key", "secrets status", "secrets generate-key"} <= shown
