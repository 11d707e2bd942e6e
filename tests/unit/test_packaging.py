"""Every package folder of the four layers is installed under the thedata namespace."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
LAYERS = ("domain", "application", "adapters", "entrypoints")


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """A new subpackage missing from `packages` would be left out of the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        "thedata." + str(init.parent.relative_to(ROOT)).replace("/", ".")
        for layer in LAYERS
        for init in (ROOT / layer).rglob("__init__.py")
    }
    assert found == listed
    assert config["package-dir"] == {f"thedata.{layer}": layer for layer in LAYERS}


def test_every_layer_declares_its_types() -> None:
    """py.typed lets library users type-check against thedata."""
    for layer in LAYERS:
        assert (ROOT / layer / "py.typed").is_file()
