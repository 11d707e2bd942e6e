"""Restore from a backup, as docs/recovery.md says, drilled on real PostgreSQL: the control
database dumped with ``pg_dump`` while the service ran, runs moved on after the dump, then the
dump restored with ``pg_restore`` into an empty database. Started there with the same key
ring, the service is ready (its stored credentials open), and the next run of a pipeline
succeeds at its first attempt, although its destination holds epochs the restored database
never handed out (they came after the dump).

The oracles are the destination's files (equal to the source's) and the run as stored."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.conftest import make_settings, new_database
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_cli import ROOT, clean_env
from tests.integration.test_run_pipeline_folders import csv_folders, organization
from tests.postgres_tools import postgres_program, programs_path
from thedata.application.health import HealthStatus
from thedata.application.use_cases import NewDataSource, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.runs import Run, RunStatus
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RECOVERY = ROOT / "docs" / "recovery.md"

ORDERS = "id,name\n1,apples\n2,pears\n"


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """Another new, empty database on the test server: where the backup is restored."""
    with new_database(postgres_server_url, "restored_") as url:
        yield url


def settings_on(url: str, data: Path) -> Any:
    # the same key ring before and after (make_settings gives the tests' own), as the
    # procedure requires; loopback data sources allowed for the credential below
    return make_settings(
        database_url=url,
        data_root=str(data),
        connector_allow_private_networks=True,
        **CHEAP_HASHING,
    )


async def a_run(container: Container, principal: Any, org: UUID, pipeline: UUID) -> Run:
    """A run of ``pipeline``, triggered, claimed and executed to its end, as stored."""
    queued = await (await resolve(container.trigger_run))(principal, org, pipeline)
    queue = await resolve(container.run_queue)
    claimed = await queue.claim("drill-worker")
    assert claimed is not None
    assert claimed.id == queued.id
    ended = await (await resolve(container.execute_run))(claimed)
    assert ended is not None, "the attempt stored nothing: another holds the run"
    return ended


def dump(url: str, to: Path) -> None:
    tool = postgres_program("pg_dump", url)
    subprocess.run(
        [tool, "--format=custom", "--file", str(to), "--dbname", url],
        check=True,
        timeout=120,
    )


def restore_as_the_page_says(url: str, folder: Path, data: Path) -> str:
    """docs/recovery.md's restore block, run as written in ``folder`` (which holds
    ``thedata.dump``) with the same key ring; what it printed."""
    section = RECOVERY.read_text().split("## Restore from a backup", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "docs/recovery.md lost its restore block"
    postgres_program("pg_restore", url)  # skips where no pg_restore of the server's version is
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.group(1)],
        cwd=folder,
        env=clean_env(
            PATH=programs_path(),
            # one role owns and serves here: the deployment guide's drill has two
            OWNER_DATABASE_URL=url,
            THEDATA_DATABASE_URL=url,
            THEDATA_DATA_ROOT=str(data),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_restored_backup_serves_with_the_same_key_ring(
    migrated_database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    """The drill of docs/recovery.md's "Restore from a backup"."""
    data = tmp_path / "data"
    backup = tmp_path / "thedata.dump"
    async with started(build_container(settings_on(migrated_database_url, data))) as container:
        principal, org = await organization(container)
        source, destination = await csv_folders(container, principal, org, data, ORDERS)
        create = await resolve(container.create_data_source)
        # a stored credential, which only the same key ring opens after the restore
        warehouse = {"host": "127.0.0.1", "database": "w", "user": "u", "password": "s3cret!"}
        await create(principal, org, NewDataSource("warehouse", DataSourceKind.POSTGRES, warehouse))
        stream = Stream("orders", "orders", StreamMode.FULL_REFRESH)
        pipeline = await (await resolve(container.create_pipeline))(
            principal, org, NewPipeline("orders", source, destination, [stream])
        )
        assert (await a_run(container, principal, org, pipeline.id)).status is RunStatus.SUCCEEDED
        await asyncio.to_thread(dump, migrated_database_url, backup)
        # the service goes on after the backup: the destination's epoch moves past the dump's
        for _ in range(2):
            ran = await a_run(container, principal, org, pipeline.id)
            assert ran.status is RunStatus.SUCCEEDED

    said = await asyncio.to_thread(restore_as_the_page_says, empty_database_url, tmp_path, data)
    assert "no run is stuck" in said  # the dump's runs had all ended
    async with started(build_container(settings_on(empty_database_url, data))) as container:
        await (await resolve(container.migrator)).migrate()
        report = await (await resolve(container.check_readiness))()
        secrets = [c for c in report.checks if c.component == "secrets"]
        assert secrets, report
        assert {c.status for c in secrets} == {HealthStatus.PASS}, secrets
        (data / str(org) / "in" / "orders.csv").write_text(ORDERS + "3,plums\n")
        after = await a_run(container, principal, org, pipeline.id)
    assert after.status is RunStatus.SUCCEEDED, after.error
    assert after.attempt == 1
    published = sorted((data / str(org) / "out" / "orders").glob("*.csv"))
    assert [p.read_text() for p in published] == [ORDERS + "3,plums\n"]
