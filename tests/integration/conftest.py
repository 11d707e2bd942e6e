"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thedata.adapters.postgres import EmbeddedPostgres


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, so it can be stopped without harming others."""
    server = EmbeddedPostgres(tmp_path / "pg", database="faults")
    server.start()
    yield server
    server.stop()
