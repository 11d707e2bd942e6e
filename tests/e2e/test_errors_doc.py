"""docs/errors.md's examples, run in the page's order against a live ``thedata serve``: every
shell session answers with the statuses and lines it shows, and the Python client prints
what the page says it prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import ROOT, serve, stop, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PAGE = ROOT / "docs" / "errors.md"
ELLIPSIS = "…"
STATUS_LINE = re.compile(r"HTTP/[\d.]+ \d{3}\b.*")


def blocks() -> list[tuple[str, str, str]]:
    """The page's ``sh`` and ``python`` blocks in order: (language, code, what it shows). A
    Python block shows the ``text`` block that follows it; a shell session shows its own
    lines that are not commands."""
    text = PAGE.read_text()
    found = []
    for match in re.finditer(r"```(sh|python)\n(.*?)```", text, re.DOTALL):
        language, code = match.groups()
        shown = ""
        if language == "python":
            after = re.match(r"\s*It prints:\s*```text\n(.*?)```", text[match.end() :], re.DOTALL)
            assert after, "a Python example of the page does not say what it prints"
            shown = after.group(1)
        found.append((language, code, shown))
    return found


def session(block: str) -> tuple[str, list[str]]:
    """A shell session's commands as one script, and the lines it shows. ``$ `` starts a
    command; indented lines continue it (after a ``\\`` or inside quotes)."""
    commands: list[str] = []
    shown: list[str] = []
    in_command = False
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
            in_command = True
        elif line.startswith("    "):
            assert in_command, f"an indented line that continues no command: {line!r}"
            commands[-1] += "\n" + line
        else:
            shown.append(line)
            in_command = False
    return "\n".join(commands), shown


def matches(shown: str, actual: str) -> bool:
    """``actual`` is ``shown``, where each ``…`` stands for anything."""
    pattern = ".*".join(re.escape(part) for part in shown.split(ELLIPSIS))
    return re.fullmatch(pattern, actual) is not None


def assert_shows(shown: list[str], output: str, code: str) -> None:
    """The output's status lines are exactly the ones shown, and every line shown is an
    output line, in order (``…`` alone elides lines)."""
    actual = [line.rstrip("\r") for line in output.splitlines()]
    statuses = [line for line in actual if STATUS_LINE.fullmatch(line)]
    assert statuses == [line for line in shown if STATUS_LINE.fullmatch(line)], (code, output)
    rest = iter(actual)
    for line in shown:
        if line == ELLIPSIS:
            continue
        assert any(matches(line, candidate) for candidate in rest), (line, code, output)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the examples use jq")
@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples use curl")
def test_every_example_of_the_page_answers_as_shown(database_url: str, tmp_path: Path) -> None:
    """One server, the examples in the page's order (later ones use the account and
    organization the first makes), each shell session in bash with the variables the ones
    before it exported."""
    examples = blocks()
    # the page's sessions and its client; fewer means the page lost examples
    assert sum(language == "sh" for language, _, _ in examples) >= 6
    assert sum(language == "python" for language, _, _ in examples) == 1
    process, base = serve(
        tmp_path,
        THEDATA_DATABASE_URL=database_url,
        THEDATA_DATA_ROOT=str(tmp_path / "data"),
        # as `./dev serve` sets it: the circuit example's data source is on this host
        THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS="true",
        # cheap hashes (outputs do not depend on them); the login limits stay the defaults
        THEDATA_PASSWORD_HASH_MEMORY_KIB="8",
        THEDATA_PASSWORD_HASH_ITERATIONS="1",
        THEDATA_LOG_LEVEL="error",
    )
    state = tmp_path / "exported.sh"
    state.write_text(f"export BASE={base}\n")
    try:
        wait_ready(base, process)
        for number, (language, code, shown) in enumerate(examples):
            if language == "sh":
                script, lines = session(code)
            else:
                program = tmp_path / f"example_{number}.py"
                program.write_text(code)
                script, lines = f"{sys.executable} {program}", shown.splitlines()
            # each example sees what the ones before it exported, and leaves its own
            result = subprocess.run(
                ["bash", "-c", f"source {state}\n{script}\nexport -p > {state}"],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, (script, result.stdout, result.stderr)
            if language == "python":  # its whole output, not a part of it
                assert result.stdout.splitlines() == lines, (code, result.stdout)
            else:
                assert_shows(lines, result.stdout, script)
    finally:
        stop(process)
