"""docs/library.md's Python blocks run as written, each in a process of its own, and print
what the page says; its connector kind fits the ports it claims to implement."""

from __future__ import annotations

import inspect
import re
import runpy
import typing
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_readme import run_example
from thedata.adapters.connectors.kind import ConnectorKind
from thedata.application.ports import Connector

PAGE = Path(__file__).parents[2] / "docs" / "library.md"

pytestmark = pytest.mark.postgres


def examples() -> list[tuple[str, str]]:
    """Each Python block of the page with the ``text`` block after "It prints:"."""
    text = PAGE.read_text()
    pattern = r"```python\n(.*?)```\s*It prints:\s*```text\n(.*?)```"
    found = re.findall(pattern, text, re.DOTALL)
    # every Python block says what it prints, so a block without it is an error here
    assert len(found) == text.count("```python"), "a Python block does not say what it prints"
    return found


def test_the_page_has_its_three_examples() -> None:
    """The container, the memory adapters and the connector kind: a lost block fails here,
    not silently in the parametrisation below."""
    assert len(examples()) == 3


@pytest.mark.slow
@pytest.mark.parametrize("number", range(3), ids=["container", "memory", "connector"])
def test_each_example_prints_what_the_page_says(
    number: int, database_url: str, tmp_path: Path
) -> None:
    """Run in a fresh process with only the database and the test key ring as settings (the
    memory and connector blocks need neither; they must not depend on them)."""
    code, shown = examples()[number]
    result = run_example(code, tmp_path, {"THEDATA_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == shown.splitlines()


def connector_example(folder: Path) -> dict[str, Any]:
    """The connector block's names, loaded without running its ``main``."""
    code, _ = examples()[2]
    path = folder / "connector_example.py"
    path.write_text(code)
    return runpy.run_path(str(path), run_name="library_example")


def protocol_members(protocol: type) -> dict[str, Any]:
    """The methods and properties a Protocol declares (not those of ``Protocol`` itself)."""
    return {
        name: member
        for name, member in vars(protocol).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def test_the_example_connector_has_every_member_of_the_connector_port(tmp_path: Path) -> None:
    """Same names, same parameters, coroutines where the port's are: what mypy's structural
    check would find missing or drifted (the block is not in mypy's files)."""
    connector_class = connector_example(tmp_path)["InlineConnector"]
    for name, wanted in protocol_members(Connector).items():
        got = getattr(connector_class, name, None)
        assert got is not None, f"InlineConnector has no {name}"
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(wanted), name
        assert list(inspect.signature(got).parameters) == list(
            inspect.signature(wanted).parameters
        ), name


def test_the_example_builder_takes_what_a_connector_kind_is_called_with(tmp_path: Path) -> None:
    """``ConnectorKind.connector`` is called with (environment, organization id, config,
    secrets) and returns a Connector; the example's builder is declared so (the config
    being the kind's own Struct, where the field says ``ConfigT``)."""
    names = connector_example(tmp_path)
    hints = typing.get_type_hints(names["inline_connector"])
    returned = hints.pop("return")
    field = typing.get_type_hints(ConnectorKind)["connector"]
    arguments, wanted_return = typing.get_args(field)
    assert returned is wanted_return is Connector
    assert len(hints) == len(arguments)
    for (name, got), wanted in zip(hints.items(), arguments, strict=True):
        expected = names["InlineConfig"] if isinstance(wanted, typing.TypeVar) else wanted
        assert got == expected, name
