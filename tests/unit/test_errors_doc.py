"""docs/errors.md lists every problem type the code can answer with, at the code's status,
and names no type the code does not have: the page cannot go stale silently."""

from __future__ import annotations

import importlib
import pkgutil
import re
from http import HTTPStatus
from pathlib import Path

import msgspec

from thedata.domain.errors import DomainError
from thedata.domain.runs import LEASE_EXPIRED
from thedata.entrypoints.cli.http_protocol import unparsable_request_answer
from thedata.entrypoints.http import problems

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "errors.md"
LAYERS = ("domain", "application", "adapters", "entrypoints")
TABLE_HEADING = "## Every problem type"
RUN_ERRORS_HEADING = "## A run's `error`"


def all_domain_errors() -> set[type[DomainError]]:
    """Every DomainError subclass of the four layers: each module is imported first, since a
    class nobody imported yet is invisible to ``__subclasses__``."""
    for layer in LAYERS:
        package = importlib.import_module(f"thedata.{layer}")
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):  # runs the CLI when imported
                importlib.import_module(module.name)
    found: set[type[DomainError]] = set()
    pending = [DomainError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass not in found:
                found.add(subclass)
                pending.append(subclass)
    return found


def status_of(error: type[DomainError]) -> HTTPStatus:
    """The status the HTTP edge answers ``error`` with: its nearest base in STATUS_OF (the
    same walk as ``problems.handle_domain_error``; 500 means no type of ours)."""
    for kind in error.__mro__:
        if kind in problems.STATUS_OF:
            return problems.STATUS_OF[kind]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def slug(code: str) -> str:
    """The problem type's last segment, as ``problem_response`` spells a code."""
    return code.replace("_", "-")


def literal_slugs() -> dict[str, HTTPStatus | None]:
    """Slugs written into the code as strings rather than as an error's ``code``: a problem
    built with ``code="..."`` or ``PROBLEM_TYPE_BASE + "..."``; None where the status is not
    known from here (the test then asks for it to be taught)."""
    found: dict[str, HTTPStatus | None] = {}
    pattern = re.compile(r'(?:\bcode="([a-z_]+)"|PROBLEM_TYPE_BASE \+ "([a-z-]+)")')
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            for match in pattern.finditer(path.read_text()):
                found[slug(match.group(1) or match.group(2))] = None
    return found


def code_problem_types() -> dict[str, HTTPStatus]:
    """Every problem type the code can answer with, and its status, read from the code."""
    types: dict[str, HTTPStatus] = {}
    for error in all_domain_errors():
        status = status_of(error)
        if status is not HTTPStatus.INTERNAL_SERVER_ERROR:  # answered as about:blank
            types[slug(error.code)] = status
    for status, code in problems._CODE.items():  # the protocol errors of ours
        types[slug(code)] = status
    answer = unparsable_request_answer("00000000-0000-0000-0000-000000000000")
    body = msgspec.json.decode(answer.partition(b"\r\n\r\n")[2])
    types[body["type"].removeprefix(problems.PROBLEM_TYPE_BASE)] = HTTPStatus(body["status"])
    for literal in literal_slugs():
        assert literal in types, (
            f"the code builds the problem type {literal!r} by name: teach this test its status"
        )
    return types


def section(heading: str) -> str:
    """The page's text from ``heading`` to the next second-level heading."""
    text = PAGE.read_text()
    assert heading in text, f"docs/errors.md lost its section {heading!r}"
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def page_table() -> dict[str, int]:
    """The page's table of problem types: slug -> status."""
    rows = re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", section(TABLE_HEADING), re.MULTILINE)
    assert rows, "the table of problem types is empty or changed its shape"
    table: dict[str, int] = {}
    for name, status in rows:
        assert name not in table, f"{name!r} is in the table twice"
        table[name] = int(status)
    return table


def test_every_problem_type_of_the_code_is_in_the_table_with_its_status() -> None:
    """A new error class, protocol problem or renamed code shows up here until documented."""
    code = code_problem_types()
    table = page_table()
    missing = sorted(set(code) - set(table))
    assert not missing, f"docs/errors.md does not list {missing}"
    wrong = {name: (table[name], int(code[name])) for name in code if table[name] != code[name]}
    assert not wrong, f"docs/errors.md gives the wrong status (page, code): {wrong}"


def test_every_problem_type_the_page_names_exists_in_the_code() -> None:
    """Neither the table nor any type URI in the text names a type the code cannot answer."""
    code = code_problem_types()
    text = PAGE.read_text()
    named = set(page_table()) | set(re.findall(r"thedata\.io/problems/([a-z-]+)", text))
    invented = sorted(named - set(code))
    assert not invented, f"docs/errors.md names problem types the code does not have: {invented}"


def test_the_page_states_the_base_uri_the_code_uses() -> None:
    """Clients match on the full type URI: the page's base must be the code's."""
    assert problems.PROBLEM_TYPE_BASE == "https://thedata.io/problems/"
    assert f"`{problems.PROBLEM_TYPE_BASE}<slug>`" in PAGE.read_text()


def test_every_run_error_type_the_page_names_exists_in_the_code() -> None:
    """A run's ``error.type`` is an error's code or ``lease_expired``; the page's table of
    them names nothing else (``…`` rows aside)."""
    codes = {error.code for error in all_domain_errors()} | {LEASE_EXPIRED}
    cells = re.findall(r"^\| ([^|]+) \|", section(RUN_ERRORS_HEADING), re.MULTILINE)
    named = {name for cell in cells for name in re.findall(r"`([a-z_]+)`", cell)}
    named.discard("error")  # the header row's `error.type` is not a type
    assert named, "the table of run error types is empty or changed its shape"
    invented = sorted(named - codes)
    assert not invented, f"docs/errors.md names run error types the code does not have: {invented}"
