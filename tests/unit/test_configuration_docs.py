"""docs/configuration.md is generated from the settings and must not go stale."""

from __future__ import annotations

from pathlib import Path

import msgspec

from thedata.entrypoints.config import Settings, render_configuration_docs, variable_name

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_matches_the_code() -> None:
    """Regenerate with `thedata config docs > docs/configuration.md` when this fails."""
    assert DOCS.read_text() == render_configuration_docs()


def test_every_setting_is_documented_with_a_meaning() -> None:
    """No setting without a line saying what it does."""
    rendered = render_configuration_docs()
    for field in msgspec.structs.fields(Settings):
        row = next(
            line for line in rendered.splitlines() if f"`{variable_name(field.name)}`" in line
        )
        meaning = row.rstrip(" |").rsplit("|", 1)[1].strip()
        assert meaning, f"{field.name} has no description"
