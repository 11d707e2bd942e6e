"""An app on a real, freshly migrated database, with the probe routes registered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings
from tests.e2e.probe_routes import probe_router
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

MAX_BODY = 4096
# real Argon2id at its smallest cost: the suite registers hundreds of users
CHEAP_HASHING = {"password_hash_memory_kib": 8, "password_hash_iterations": 1}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """A client of the whole app; the lifespan (pool, migrations) runs as in production."""
    container = build_container(
        make_settings(
            database_url=database_url,
            max_body_bytes=MAX_BODY,
            data_root=str(tmp_path / "data"),
            **CHEAP_HASHING,
        )
    )
    app = create_app(container)
    app.register(probe_router)
    async with AsyncTestClient(app) as test_client:
        yield test_client
