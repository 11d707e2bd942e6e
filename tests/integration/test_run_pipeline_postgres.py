"""A pipeline run through the real container: PostgreSQL to PostgreSQL, every mode, rerun.

The service's control database is on one server; the pipeline's source and
destination databases on another. The oracle is the source table itself,
queried independently of the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import make_settings, tcp_endpoint
from tests.e2e.conftest import CHEAP_HASHING
from thedata.application.use_cases import NewDataSource, NewOrganization, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = pytest.mark.postgres

ORDERS = """
CREATE TABLE orders (
    id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(12,2),
    payload jsonb, tags text[], note text
)
"""
STREAMS = [
    Stream("customers", "customers_copy", StreamMode.FULL_REFRESH),
    Stream("orders", "orders_upserted", StreamMode.INCREMENTAL, "updated_at", ("id",)),
    Stream("events", "events_log", StreamMode.INCREMENTAL, "seq"),
]


@pytest.fixture
def databases(source_server_url: str) -> Iterator[tuple[str, str]]:
    """A source database with tables, and an empty destination database, on the sources server."""
    names = [f"thedata_run_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("src", "dst")]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = [make_conninfo(source_server_url, dbname=name) for name in names]
    with psycopg.connect(urls[0], autocommit=True) as connection:
        connection.execute(ORDERS)
        connection.execute(
            "INSERT INTO orders SELECT n, now() - n * interval '1 minute', n / 4.0,"
            " jsonb_build_object('n', n), ARRAY['a', n::text], CASE WHEN n % 3 = 0 THEN 'x' END"
            " FROM generate_series(1, 500) AS n"
        )
        connection.execute("CREATE TABLE customers (id bigint PRIMARY KEY, name text)")
        connection.execute("INSERT INTO customers SELECT n, 'c' || n FROM generate_series(1, 30) n")
        connection.execute("CREATE TABLE events (seq bigint NOT NULL, body text)")
        connection.execute("INSERT INTO events SELECT n, 'e' || n FROM generate_series(1, 50) n")
    yield urls[0], urls[1]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def table(url: str, name: str, order: str = "id") -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(name), sql.Identifier(order)
        )
        return connection.execute(query).fetchall()


async def test_a_pipeline_moves_every_mode_and_a_rerun_brings_only_changes(
    database_url: str, databases: tuple[str, str], tmp_path: Path
) -> None:
    """Full refresh and upsert equal the source after each run; append takes each row once;
    a rerun of the incremental streams reads only what changed."""
    source_url, destination_url = databases
    settings = make_settings(
        database_url=database_url, data_root=str(tmp_path), worker_batch_rows=64, **CHEAP_HASHING
    )
    async with started(build_container(settings)) as container:
        await (await resolve(container.migrator)).migrate()
        user = await (await resolve(container.register_user))("a@x.io", "p" * 12, "A")
        authenticate = await resolve(container.authenticate)
        principal = await authenticate(user.access_token)
        created = await (await resolve(container.create_organization))(
            principal, NewOrganization("Acme")
        )
        org = created.organization.id
        principal = await authenticate(user.access_token)
        create_source = await resolve(container.create_data_source)
        with (
            tcp_endpoint(source_url) as (host, port, source_db, db_user),
            tcp_endpoint(destination_url) as (dest_host, dest_port, dest_db, _),
        ):
            source = await create_source(
                principal,
                org,
                NewDataSource(
                    "source",
                    DataSourceKind.POSTGRES,
                    {"host": host, "port": port, "database": source_db, "user": db_user},
                ),
            )
            destination = await create_source(
                principal,
                org,
                NewDataSource(
                    "destination",
                    DataSourceKind.POSTGRES,
                    {"host": dest_host, "port": dest_port, "database": dest_db, "user": db_user},
                ),
            )
            pipeline = await (await resolve(container.create_pipeline))(
                principal,
                org,
                NewPipeline("nightly", source.id, destination.id, STREAMS),
            )
            run = await resolve(container.run_pipeline)

            first = await run(principal, org, pipeline.id)
            assert table(destination_url, "customers_copy") == table(source_url, "customers")
            assert table(destination_url, "orders_upserted") == table(source_url, "orders")
            assert first.streams["events"].rows == 50

            with psycopg.connect(source_url, autocommit=True) as connection:
                connection.execute(
                    "UPDATE orders SET amount = amount + 1, updated_at = clock_timestamp()"
                    " WHERE id % 50 = 0"
                )
                connection.execute("INSERT INTO events VALUES (51, 'e51'), (52, 'e52')")
                connection.execute("UPDATE customers SET name = 'renamed' WHERE id = 7")
            second = await run(principal, org, pipeline.id)
            assert second.epoch > first.epoch
            assert second.streams["orders"].rows == 10  # only the changed rows
            assert second.streams["customers"].rows == 30  # a full refresh reads everything
            assert table(destination_url, "customers_copy") == table(source_url, "customers")
            assert table(destination_url, "orders_upserted") == table(source_url, "orders")
            assert table(destination_url, "events_log", "seq") == table(source_url, "events", "seq")

            third = await run(principal, org, pipeline.id)
            assert third.streams["events"].rows == 0
            assert table(destination_url, "events_log", "seq") == table(source_url, "events", "seq")
