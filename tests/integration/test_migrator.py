"""Migrations on a real database: in order, once, recorded, guarded by a lock and a checksum."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from thedata.adapters.postgres import (
    Migration,
    MigrationError,
    PostgresMigrator,
    load_migrations,
    read_status,
)
from thedata.adapters.postgres.migrator import MIGRATION_LOCK_KEY

pytestmark = pytest.mark.postgres


def write_migrations(folder: Path, files: dict[str, str]) -> tuple[Migration, ...]:
    """Write ``files`` into ``folder`` and load them the way the service loads its own."""
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return load_migrations(folder)


def tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def history(database_url: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT version, name FROM schema_migrations ORDER BY 1")
        return [(r[0], r[1]) for r in rows.fetchall()]


async def test_pending_migrations_are_applied_in_order_and_recorded(
    database_url: str, tmp_path: Path
) -> None:
    """Each file runs once, in numeric order, and the history names every one."""
    migrations = write_migrations(
        tmp_path,
        {
            "0002_add_column.sql": "ALTER TABLE things ADD COLUMN label text;",
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
        },
    )
    applied = await PostgresMigrator(database_url, migrations, 2).migrate()
    assert [m.file_name for m in applied] == ["0001_create.sql", "0002_add_column.sql"]
    assert history(database_url) == [(1, "create"), (2, "add_column")]
    assert "things" in tables(database_url)


async def test_a_second_run_applies_nothing(database_url: str, tmp_path: Path) -> None:
    """Migrating an up-to-date database is a no-op, so every start-up may do it."""
    migrations = write_migrations(tmp_path, {"0001_create.sql": "CREATE TABLE t (id int);"})
    await PostgresMigrator(database_url, migrations, 2).migrate()
    assert await PostgresMigrator(database_url, migrations, 2).migrate() == ()


async def test_an_edited_applied_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    """Changing a file after it ran anywhere is an error naming the file, and runs nothing."""
    first = write_migrations(tmp_path, {"0001_create.sql": "CREATE TABLE t (id int);"})
    await PostgresMigrator(database_url, first, 2).migrate()
    edited = write_migrations(
        tmp_path,
        {
            "0001_create.sql": "CREATE TABLE t (id bigint);",
            "0002_more.sql": "CREATE TABLE u (id int);",
        },
    )
    with pytest.raises(MigrationError, match=r"0001_create\.sql"):
        await PostgresMigrator(database_url, edited, 2).migrate()
    assert "u" not in tables(database_url)


async def test_a_failing_migration_leaves_no_trace_of_itself(
    database_url: str, tmp_path: Path
) -> None:
    """A broken file is rolled back whole and not recorded; those before it stay applied."""
    migrations = write_migrations(
        tmp_path,
        {
            "0001_good.sql": "CREATE TABLE good (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int); SELECT no_such_function();",
        },
    )
    with pytest.raises(MigrationError, match=r"0002_bad\.sql failed: function no_such_function"):
        await PostgresMigrator(database_url, migrations, 2).migrate()
    assert history(database_url) == [(1, "good")]
    assert "half" not in tables(database_url)


async def test_concurrent_migrators_apply_each_migration_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    """Processes starting together serialize on the advisory lock: one migrates, others wait."""
    migrations = write_migrations(
        tmp_path,
        {
            # slow enough that without the lock both would run it and one would fail
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE once (id int);",
            "0002_next.sql": "CREATE TABLE twice (id int);",
        },
    )
    results = await asyncio.gather(
        *(PostgresMigrator(database_url, migrations, 2).migrate() for _ in range(4))
    )
    applied = sorted(m.file_name for result in results for m in result)
    assert applied == ["0001_slow.sql", "0002_next.sql"]
    assert history(database_url) == [(1, "slow"), (2, "next")]


async def test_status_tells_pending_changed_and_unknown_apart(
    database_url: str, tmp_path: Path
) -> None:
    """The status compares history and files: what is missing, edited, or from a newer release."""
    applied = write_migrations(
        tmp_path / "old",
        {"0001_a.sql": "CREATE TABLE a (id int);", "0003_c.sql": "CREATE TABLE c (id int);"},
    )
    await PostgresMigrator(database_url, applied, 2).migrate()
    current = write_migrations(
        tmp_path / "new",
        {"0001_a.sql": "CREATE TABLE a (id bigint);", "0002_b.sql": "CREATE TABLE b (id int);"},
    )
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        status = await read_status(connection, current)
    assert [m.version for m in status.pending] == [2]
    assert [m.version for m in status.changed] == [1]
    assert status.unknown == (3,)
    assert not status.is_current


async def test_a_database_never_migrated_has_everything_pending(
    database_url: str, tmp_path: Path
) -> None:
    """Reading the status creates nothing: an empty database reports all files pending."""
    migrations = write_migrations(tmp_path, {"0001_a.sql": "CREATE TABLE a (id int);"})
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        status = await read_status(connection, migrations)
    assert status.pending == migrations
    assert "schema_migrations" not in tables(database_url)


@pytest.fixture
def restricted_url(database_url: str) -> Iterator[str]:
    """``database_url`` as a role that may use and write the schema but not create in it
    (a service role of docs/deployment.md: rights on the tables the owner creates); dropped
    after."""
    role = f"thedata_service_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        connection.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        connection.execute(
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role))
        )
        connection.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
                " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ).format(sql.Identifier(role))
        )
    yield make_conninfo(database_url, user=role)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


async def test_a_role_that_may_not_create_starts_when_nothing_is_pending(
    database_url: str, restricted_url: str, tmp_path: Path
) -> None:
    """Migrating on start as a least-privileged service role: nothing to do is no error (no
    lock, no DDL); something to do is one MigrationError saying who should migrate."""
    one = write_migrations(tmp_path / "one", {"0001_create.sql": "CREATE TABLE t (id int);"})
    await PostgresMigrator(database_url, one, 2).migrate()  # as the owner
    assert await PostgresMigrator(restricted_url, one, 2).migrate() == ()
    two = write_migrations(
        tmp_path / "two",
        {"0001_create.sql": "CREATE TABLE t (id int);", "0002_more.sql": "CREATE TABLE u ();"},
    )
    with pytest.raises(MigrationError, match=r"may not change the schema.*thedata migrate"):
        await PostgresMigrator(restricted_url, two, 2).migrate()
    assert history(database_url) == [(1, "create")]


async def waiting_for_the_lock(database_url: str) -> None:
    """Until a session waits for the migration lock."""
    for _ in range(200):
        with psycopg.connect(database_url) as connection:
            waiting = connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
        if waiting and waiting[0]:
            return
        await asyncio.sleep(0.05)
    pytest.fail("no session waited for the migration lock")


async def test_a_role_that_may_not_create_waits_out_the_owners_migration_and_starts(
    database_url: str, restricted_url: str, tmp_path: Path
) -> None:
    """Started while the owner migrates, it sees something pending, waits for the lock, then
    finds it all applied: nothing more is asked of it (no CREATE), and it starts."""
    one = write_migrations(tmp_path / "one", {"0001_create.sql": "CREATE TABLE t (id int);"})
    two = write_migrations(
        tmp_path / "two",
        {"0001_create.sql": "CREATE TABLE t (id int);", "0002_more.sql": "CREATE TABLE u ();"},
    )
    await PostgresMigrator(database_url, one, 2).migrate()
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        starting = asyncio.create_task(PostgresMigrator(restricted_url, two, 2).migrate())
        await waiting_for_the_lock(database_url)
        owner.execute(two[1].sql)  # the owner's migration, recorded as the migrator does
        owner.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (two[1].version, two[1].name, two[1].checksum),
        )
        owner.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        assert await asyncio.wait_for(starting, 30) == ()
    assert history(database_url) == [(1, "create"), (2, "more")]


@pytest.mark.parametrize("held", ["the migration lock", "a table the migration alters"])
async def test_a_lock_not_granted_in_time_fails_in_words_without_retrying(
    database_url: str, tmp_path: Path, held: str
) -> None:
    """With the role's lock_timeout, a lock another session holds ends the migration with a
    MigrationError saying which lock, at once (not an outage, retried for minutes)."""
    migrations = write_migrations(
        tmp_path,
        {
            "0001_create.sql": "CREATE TABLE t (id int);",
            "0002_alter.sql": "ALTER TABLE t ADD c int;",
        },
    )
    await PostgresMigrator(database_url, migrations[:1], 2).migrate()
    impatient = make_conninfo(database_url, options="-c lock_timeout=200")
    with psycopg.connect(database_url) as other:
        if held == "the migration lock":
            other.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
            expected = "the migration lock"
        else:
            other.execute("LOCK TABLE t IN ACCESS SHARE MODE")  # an open transaction reading t
            expected = "0002_alter.sql"
        started = asyncio.get_running_loop().time()
        with pytest.raises(MigrationError, match=f"lock_timeout for .*{expected}"):
            await PostgresMigrator(impatient, migrations, 2).migrate()
        assert asyncio.get_running_loop().time() - started < 5
    assert history(database_url) == [(1, "create")]
