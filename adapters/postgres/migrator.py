"""Applies the numbered SQL migrations, once, in order, under an advisory lock."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import cast

import psycopg
import structlog
from attrs import frozen
from psycopg import AsyncConnection, sql

from thedata.adapters.postgres.errors import translated_errors
from thedata.adapters.postgres.retry import retry_transient

log = structlog.get_logger(__name__)

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

# Any constant works as long as every process uses the same one: "thedata!" in ASCII.
MIGRATION_LOCK_KEY = 0x7468656461746121

_CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The migrations cannot be applied as they are; the message says which file and why."""


@frozen
class Migration:
    """One SQL file: its number, its name and its text."""

    version: int
    name: str
    sql: str

    @property
    def file_name(self) -> str:
        """The file name the migration was read from."""
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        """SHA-256 of the text: an applied migration whose file changed is caught by it."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@frozen
class MigrationStatus:
    """How the database's migration history compares with the migration files."""

    applied: tuple[int, ...]
    pending: tuple[Migration, ...]
    changed: tuple[Migration, ...]
    unknown: tuple[int, ...]

    @property
    def is_current(self) -> bool:
        """Every file applied, none edited since: the schema is what the code expects."""
        return not self.pending and not self.changed


def load_migrations(source: Traversable | None = None) -> tuple[Migration, ...]:
    """Read the migration files of ``source`` (the packaged ones by default), ordered by number."""
    folder = source if source is not None else files("thedata.adapters.postgres.migrations")
    migrations: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migration files are named NNNN_lowercase_name.sql")
        migration = Migration(
            version=int(match["version"]), name=match["name"], sql=entry.read_text("utf-8")
        )
        if migration.version in migrations:
            other = migrations[migration.version].file_name
            raise MigrationError(f"{entry.name}: version {migration.version} is also {other}")
        migrations[migration.version] = migration
    return tuple(migrations[v] for v in sorted(migrations))


async def read_status(
    connection: AsyncConnection[tuple[object, ...]], migrations: Sequence[Migration]
) -> MigrationStatus:
    """Compare the history table with ``migrations``; a database never migrated has all pending."""
    cursor = await connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cursor.fetchone()
    history: dict[int, str] = {}
    if row is not None and row[0]:
        cursor = await connection.execute("SELECT version, checksum FROM schema_migrations")
        history = {cast(int, v): cast(str, c) for v, c in await cursor.fetchall()}
    known = {m.version for m in migrations}
    return MigrationStatus(
        applied=tuple(sorted(history)),
        pending=tuple(m for m in migrations if m.version not in history),
        changed=tuple(m for m in migrations if history.get(m.version, m.checksum) != m.checksum),
        unknown=tuple(sorted(set(history) - known)),
    )


@contextmanager
def _as_owner(role: str) -> Iterator[None]:
    """A role that lacks a privilege the history or a migration needs: one readable error."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as e:
        raise MigrationError(
            f"the role {role} may not change the schema ({e.diag.message_primary}): run"
            " `thedata migrate` as the schema's owner (and set THEDATA_MIGRATE_ON_START=false"
            " for this role)"
        ) from e


@contextmanager
def _waited_for(what: str) -> Iterator[None]:
    """A lock not granted within the role's ``lock_timeout``: a ``MigrationError`` saying
    which, not an outage to retry (the wait would end the same way)."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as e:
        raise MigrationError(
            f"waited longer than lock_timeout for {what}: try again when it is free"
        ) from e


def _unedited(status: MigrationStatus) -> MigrationStatus:
    """``status``, unless an applied migration's file was edited since (``MigrationError``)."""
    if status.changed:
        names = ", ".join(m.file_name for m in status.changed)
        raise MigrationError(f"applied migrations were edited afterwards: {names}")
    return status


class PostgresMigrator:
    """Brings the control database's schema up to date.

    Works on a connection of its own rather than the pool's: the advisory lock
    is held by the session, and a pooled session must never keep one.
    Several processes may start at once; the lock lets one migrate while the
    others wait, then find nothing left to do.
    """

    def __init__(
        self, conninfo: str, migrations: Sequence[Migration], connect_timeout: float
    ) -> None:
        self._conninfo = conninfo
        self._migrations = tuple(migrations)
        self._connect_timeout = connect_timeout

    @retry_transient
    async def migrate(self) -> tuple[Migration, ...]:
        """Apply every pending migration in order; return those this call applied.

        Idempotent, so a dropped connection is retried; an edited applied
        migration or a failing file raises ``MigrationError`` and applies nothing
        more (the failing file's own transaction is rolled back).
        """
        with translated_errors():
            connection = await AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(2, round(self._connect_timeout)),
                application_name="thedata-migrate",
            )
        async with connection:
            with _as_owner(connection.info.user):
                with translated_errors():
                    # a long migration, or the wait for another process's, is not a stuck query
                    await connection.execute("SET statement_timeout = 0")
                    # a look first, without the lock or any DDL: an up-to-date database asks
                    # nothing more of the role, so a service role that may not create tables starts
                    status = _unedited(await read_status(connection, self._migrations))
                if not status.pending:
                    return ()
                with (
                    translated_errors(),
                    _waited_for("the migration lock (another process is migrating)"),
                ):
                    await connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
                with translated_errors():
                    # again under the lock: another process may have applied them meanwhile,
                    # and then nothing more is asked of this role
                    status = _unedited(await read_status(connection, self._migrations))
                    if not status.pending:
                        return ()
                    await connection.execute(_CREATE_HISTORY)
                for migration in status.pending:
                    await self._apply(connection, migration)
                return status.pending

    async def _apply(
        self, connection: AsyncConnection[tuple[object, ...]], migration: Migration
    ) -> None:
        try:
            with translated_errors(), _waited_for(f"a lock {migration.file_name} needs"):
                async with connection.transaction():
                    # migration files are trusted code shipped inside the package
                    await connection.execute(sql.SQL(migration.sql))  # type: ignore[arg-type,unused-ignore]
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
        except psycopg.Error as e:
            # connection trouble was translated above; what is left is the file's own fault
            reason = e.diag.message_primary or type(e).__name__
            raise MigrationError(f"{migration.file_name} failed: {reason}") from e
        log.info("migration applied", migration=migration.file_name)
