"""Pipelines through the real container between PostgreSQL and folders, both ways, every mode.

PostgreSQL → folder → PostgreSQL: the first pipeline writes a source
database's tables into a folder of CSV or JSON Lines files, the second reads
that folder into another database. The oracle is the source database itself:
after each pair of runs (and after changes on the source and a rerun) every
table at the end equals its origin, types and all. A third pipeline copies
the folder into a folder of the other format (rows decoded once and encoded
once), read back by PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import make_settings, tcp_endpoint
from tests.contract.test_folder_streams import load_table
from tests.e2e.conftest import CHEAP_HASHING
from thedata.application.use_cases import NewDataSource, NewOrganization, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.entrypoints.container import Container, build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = pytest.mark.postgres

ORDERS = """
CREATE TABLE orders (
    id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(12,2),
    payload jsonb, tags text[], note text, blob bytea, day date
)
"""
TO_FOLDER = [
    Stream("customers", "customers", StreamMode.FULL_REFRESH),
    Stream("orders", "orders", StreamMode.INCREMENTAL, "updated_at", ("id",)),
    Stream("events", "events", StreamMode.INCREMENTAL, "seq"),
]
FROM_FOLDER = [
    Stream("customers", "customers", StreamMode.FULL_REFRESH),
    Stream("orders", "orders", StreamMode.INCREMENTAL, "updated_at", ("id",)),
    Stream("events", "events", StreamMode.INCREMENTAL, "seq"),
]
ORDER_BY = {"customers": "id", "orders": "id", "events": "seq"}


@pytest.fixture
def databases(source_server_url: str) -> Iterator[tuple[str, str]]:
    """A source database with tables, and an empty destination database."""
    names = [f"thedata_folders_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("src", "dst")]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = [make_conninfo(source_server_url, dbname=name) for name in names]
    with psycopg.connect(urls[0], autocommit=True) as connection:
        connection.execute(ORDERS)
        connection.execute(
            "INSERT INTO orders SELECT n, now() - n * interval '1 minute', n / 4.0,"
            " jsonb_build_object('n', n, 'q', 'a \"quoted\", line\nbreak'),"
            " ARRAY['a', n::text, NULL], CASE WHEN n % 3 = 0 THEN '' WHEN n % 3 = 1 THEN 'x,y' END,"
            " CASE WHEN n % 2 = 0 THEN '\\x00ff'::bytea END, date '2024-02-29' + n"
            " FROM generate_series(1, 300) AS n"
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


def table(url: str, name: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(name), sql.Identifier(ORDER_BY[name])
        )
        return connection.execute(query).fetchall()


async def csv_folders(
    container: Container, principal: Any, org: UUID, data: Path, rows: str
) -> tuple[UUID, UUID]:
    """Two data sources of ``org``: its folder ``in`` holding ``orders.csv`` (``rows``) and
    its empty folder ``out``, both CSV; their ids."""
    (data / str(org) / "in").mkdir(parents=True)
    (data / str(org) / "out").mkdir()
    (data / str(org) / "in" / "orders.csv").write_text(rows)
    create = await resolve(container.create_data_source)
    made = [
        await create(principal, org, NewDataSource(name, DataSourceKind.FILE, config))
        for name, config in (
            ("in", {"path": "in", "format": "csv"}),
            ("out", {"path": "out", "format": "csv"}),
        )
    ]
    return made[0].id, made[1].id


async def organization(container: Container) -> tuple[Any, UUID]:
    await (await resolve(container.migrator)).migrate()
    user = await (await resolve(container.register_user))("a@x.io", "p" * 12, "A")
    authenticate = await resolve(container.authenticate)
    principal = await authenticate(user.access_token)
    created = await (await resolve(container.create_organization))(
        principal, NewOrganization("Acme")
    )
    return await authenticate(user.access_token), created.organization.id


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
async def test_postgres_to_a_folder_and_back_keeps_every_row_and_type(
    database_url: str, databases: tuple[str, str], tmp_path: Path, file_format: str
) -> None:
    source_url, destination_url = databases
    settings = make_settings(
        database_url=database_url, data_root=str(tmp_path), worker_batch_rows=64, **CHEAP_HASHING
    )
    async with started(build_container(settings)) as container:
        principal, org = await organization(container)
        (tmp_path / str(org) / "lake").mkdir(parents=True)
        (tmp_path / str(org) / "copy").mkdir(parents=True)
        create_source = await resolve(container.create_data_source)
        create_pipeline = await resolve(container.create_pipeline)
        run = await resolve(container.run_pipeline)
        other = "jsonl" if file_format == "csv" else "csv"
        with (
            tcp_endpoint(source_url) as (host, port, source_db, db_user),
            tcp_endpoint(destination_url) as (dest_host, dest_port, dest_db, _),
        ):
            postgres_in = await create_source(
                principal,
                org,
                NewDataSource(
                    "source",
                    DataSourceKind.POSTGRES,
                    {"host": host, "port": port, "database": source_db, "user": db_user},
                ),
            )
            lake = await create_source(
                principal,
                org,
                NewDataSource("lake", DataSourceKind.FILE, {"path": "lake", "format": file_format}),
            )
            copy = await create_source(
                principal,
                org,
                NewDataSource("copy", DataSourceKind.FILE, {"path": "copy", "format": other}),
            )
            postgres_out = await create_source(
                principal,
                org,
                NewDataSource(
                    "destination",
                    DataSourceKind.POSTGRES,
                    {"host": dest_host, "port": dest_port, "database": dest_db, "user": db_user},
                ),
            )
            out = await create_pipeline(
                principal, org, NewPipeline("out", postgres_in.id, lake.id, TO_FOLDER)
            )
            back = await create_pipeline(
                principal, org, NewPipeline("back", lake.id, postgres_out.id, FROM_FOLDER)
            )
            across = await create_pipeline(
                principal, org, NewPipeline("across", lake.id, copy.id, FROM_FOLDER)
            )

            async def everything_equal() -> None:
                await run(principal, org, out.id)
                await run(principal, org, back.id)
                await run(principal, org, across.id)
                for name in ORDER_BY:
                    expected = table(source_url, name)
                    assert table(destination_url, name) == expected, name
                    copied = await load_table(database_url, tmp_path / str(org) / "copy", name)
                    assert sorted(copied) == sorted(expected), name

            await everything_equal()
            with psycopg.connect(source_url, autocommit=True) as connection:
                connection.execute(
                    "UPDATE orders SET amount = amount + 1, updated_at = clock_timestamp(),"
                    " note = NULL WHERE id % 50 = 0"
                )
                connection.execute("INSERT INTO events VALUES (51, 'e51'), (52, '')")
                connection.execute("UPDATE customers SET name = 'renamed' WHERE id = 7")
            await everything_equal()
            again = await run(principal, org, back.id)
            assert again.streams["events"].rows == 0
            assert again.streams["orders"].rows == 0
