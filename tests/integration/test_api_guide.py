"""docs/api.md, the HTTP API walk-through, as a newcomer runs it: its ```sh blocks in order,
as one bash script, against a live `thedata serve` (with its worker)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import ROOT, server_home, stop, wait_ready
from tests.integration.test_first_run import quick_start_serve

GUIDE = ROOT / "docs" / "api.md"
__all__ = ["server_home"]  # the fixture

# a fence opens at the start of a line and closes at the next line that is only ```
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# printed between two blocks by the test only (the guide never prints it), so that what each
# block printed can be told apart; it changes nothing the blocks do
MARKER = "@@ api.md block {} @@"


def fenced_blocks() -> list[tuple[str, str]]:
    """The guide's fenced blocks in order, each as (language, text), before "What next" (its
    snippets there are request bodies and examples, not answers of the walk-through)."""
    walk_through = GUIDE.read_text().split("\n## What next", 1)[0]
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(walk_through)]


def shell_blocks() -> list[str]:
    """Every ```sh block of the whole guide: what a person runs."""
    return [m.group(2) for m in FENCE.finditer(GUIDE.read_text()) if m.group(1) == "sh"]


def shown_answers() -> list[tuple[int, Any]]:
    """Each ```json block of the walk-through with the index of the ```sh block before it."""
    answers, block = [], -1
    for language, text in fenced_blocks():
        if language == "sh":
            block += 1
        elif language == "json":
            assert block >= 0, "a JSON answer shown before any command"
            answers.append((block, json.loads(text)))
    return answers


def json_documents(text: str) -> list[Any]:
    """The JSON documents printed in ``text``, in order (lines that are not JSON skipped)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        try:
            document, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            at = text.find("\n", at) + 1 or len(text)
            continue
        documents.append(document)
    return documents


def shape(value: Any) -> Any:
    """The keys of ``value``, nested: what a guide's answer and the server's must share (ids,
    times and counts differ from run to run; a list stands for its first item's shape)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def test_the_guide_is_extracted_the_way_it_tells_people_to() -> None:
    """The awk line docs/api.md gives for running the whole page yields its ```sh blocks."""
    command = re.search(r"^\$ (awk .*docs/api\.md) \| bash", GUIDE.read_text(), re.MULTILINE)
    assert command, "the guide lost its one-line way of running it all"
    extracted = subprocess.run(
        ["bash", "-c", command.group(1)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert extracted.stdout == "".join(shell_blocks())


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("jq") is None, reason="the walk-through needs jq")
def test_the_api_guide_runs_as_written_and_moves_the_rows(server_home: Path) -> None:
    """Run as one script, the walk-through exits 0, its run succeeds, the rows it prints at
    the end are the CSV file's rows, and each answer it shows has the server's keys."""
    blocks = shell_blocks()
    script = "".join(f"printf '%s\\n' '{MARKER.format(n)}'\n{b}" for n, b in enumerate(blocks))
    data = server_home / "state" / "data"  # THEDATA_DATA_ROOT's default under THEDATA_HOME
    process, base = quick_start_serve(server_home)  # `./dev serve`, as the guide says
    try:
        wait_ready(base, process)
        walk = subprocess.run(
            # -euo pipefail as the guide's one-liner runs it: any failing command stops it
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=server_home,
            env={"PATH": "/usr/bin:/bin", "BASE": base, "DATA": str(data)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        code, _ = stop(process)
    assert walk.returncode == 0, walk.stdout + walk.stderr
    printed = re.split(r"^@@ api\.md block \d+ @@\n", walk.stdout, flags=re.MULTILINE)[1:]
    assert len(printed) == len(blocks)

    # the run: the watch loop printed the finished run last
    finished = [d for d in json_documents(walk.stdout) if isinstance(d, dict) and "attempts" in d]
    assert finished[-1]["status"] == "succeeded", walk.stdout

    # the oracle: the CSV file the guide wrote, parsed by the csv module, not by the service
    (written,) = data.glob("*/in/orders.csv")
    with written.open(newline="") as file:
        expected = list(csv.DictReader(file))
    assert len(expected) >= 2
    assert any("," in row["name"] for row in expected)  # a quoted field, kept whole
    # numbers kept as their text, as the CSV holds them (1.50 stays 1.50)
    rows = [json.loads(line, parse_int=str, parse_float=str) for line in printed[-1].splitlines()]
    assert rows == expected
    # and the guide shows those very lines as the last block's expected output
    shown = [line[2:] for line in blocks[-1].splitlines() if line.startswith("# {")]
    assert shown == printed[-1].splitlines()

    answers = shown_answers()
    assert answers, "the guide shows no answer to compare"
    for block, answer in answers:
        answered = [shape(document) for document in json_documents(printed[block])]
        assert shape(answer) in answered, (
            f"the answer shown after block {block} has other keys than the server's:\n"
            f"{json.dumps(shape(answer), indent=1)}\nprinted: {printed[block]}"
        )
    assert code == 0
