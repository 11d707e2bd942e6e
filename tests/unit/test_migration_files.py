"""Migration files: named NNNN_name.sql, unique numbers, loaded in numeric order."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thedata.adapters.postgres import MigrationError, load_migrations

VALID_NAME = re.compile(r"\d{4}_[a-z0-9_]+\.sql")


def test_the_packaged_migrations_load() -> None:
    """The migrations shipped with the package follow the rules (an empty set does too)."""
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))


@given(name=st.from_regex(r"[0-9a-zA-Z_.-]{1,20}\.sql", fullmatch=True))
def test_a_file_loads_exactly_when_its_name_follows_the_pattern(name: str) -> None:
    """Any .sql name is either NNNN_lowercase.sql, and loads, or is rejected with its name."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text("SELECT 1;")
        if VALID_NAME.fullmatch(name):
            assert [m.file_name for m in load_migrations(Path(folder))] == [name]
        else:
            with pytest.raises(MigrationError, match=re.escape(name)):
                load_migrations(Path(folder))


def test_two_files_with_one_number_are_refused(tmp_path: Path) -> None:
    """Two migrations may not share a version: the order between them would be a guess."""
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="version 1"):
        load_migrations(tmp_path)


def test_migrations_are_ordered_by_number_and_other_files_ignored(tmp_path: Path) -> None:
    """Order is numeric, whatever the directory listing says; READMEs and the like are skipped."""
    for name in ("0010_j.sql", "0002_b.sql", "0001_a.sql", "README.md", "__init__.py"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [m.version for m in load_migrations(tmp_path)] == [1, 2, 10]


def test_the_checksum_follows_the_text(tmp_path: Path) -> None:
    """Equal text, equal checksum; any edit changes it."""
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    before = load_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_text("SELECT 1; ")
    assert load_migrations(tmp_path)[0].checksum != before
