"""A circuit one API process opens is respected by the others (they share the catalog)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, tcp_endpoint
from tests.faults import Blackhole
from thedata.application.use_cases import NewDataSource, NewOrganization
from thedata.domain.data_sources import DataSourceKind
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = pytest.mark.postgres


async def test_a_second_process_does_not_hammer_a_source_the_first_found_dead(
    migrated_database_url: str, source_database_url: str, tmp_path: Path
) -> None:
    """Process A's breaker opens on a dead host; process B's check is refused without connecting."""
    settings = make_settings(
        database_url=migrated_database_url,
        data_root=str(tmp_path),
        connector_timeout=0.5,
        breaker_minimum_calls=2,
        password_hash_memory_kib=8,
        password_hash_iterations=1,
    )
    dead_host = Blackhole()
    port = await dead_host.start()
    try:
        async with (
            started(build_container(settings)) as first,
            started(build_container(settings)) as second,
        ):
            registration = await (await resolve(first.register_user))("a@x.io", "p" * 12, "A")
            authenticate = await resolve(first.authenticate)
            principal = await authenticate(registration.access_token)
            created: Any = await (await resolve(first.create_organization))(
                principal, NewOrganization("Acme")
            )
            org = created.organization.id
            principal = await authenticate(registration.access_token)
            with tcp_endpoint(source_database_url) as (host, _, database, user):
                config = {"host": host, "port": port, "database": database, "user": user}
                source: Any = await (await resolve(first.create_data_source))(
                    principal, org, NewDataSource("dead", DataSourceKind.POSTGRES, config)
                )
            check_in_first = await resolve(first.check_data_source)
            for _ in range(2):
                assert not (await check_in_first(principal, org, source.id)).ok
            assert dead_host.connections == 2
            outcome = await (await resolve(second.check_data_source))(principal, org, source.id)
            assert not outcome.ok
            assert outcome.error is not None
            assert "recent calls" in outcome.error
            assert dead_host.connections == 2  # the second process made no attempt
    finally:
        await dead_host.stop()
