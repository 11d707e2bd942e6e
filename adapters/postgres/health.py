"""Readiness of the control database: reachable, and its schema current."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool

from thedata.adapters.postgres.migrator import Migration, MigrationStatus, read_status
from thedata.application.health import CheckResult, HealthStatus
from thedata.application.ports.clock import Clock


class PostgresHealthCheck:
    """Borrows a pooled connection and reads the migration history with it.

    One round trip proves the database answers and tells whether every
    migration is applied. The connection wait is bounded by ``timeout``, so a
    database that is down or hanging fails the check instead of stalling it.
    """

    component = "database"

    def __init__(
        self,
        pool: AsyncConnectionPool,
        migrations: Sequence[Migration],
        clock: Clock,
        timeout: float,
    ) -> None:
        self._pool = pool
        self._migrations = tuple(migrations)
        self._clock = clock
        self._timeout = timeout

    async def check(self) -> tuple[CheckResult, ...]:
        """Report connection latency and migration state; never raises for an outage."""
        started = self._clock.monotonic()
        try:
            async with self._pool.connection(timeout=self._timeout) as connection:
                status = await read_status(connection, self._migrations)
        except psycopg.Error as e:
            return (self._result("connection", HealthStatus.FAIL, _describe(e)),)
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        return (
            self._result("connection", HealthStatus.PASS, None, latency_ms, "ms"),
            self._migrations_result(status),
        )

    def _migrations_result(self, status: MigrationStatus) -> CheckResult:
        if status.changed:
            names = ", ".join(m.file_name for m in status.changed)
            return self._result("migrations", HealthStatus.FAIL, f"edited after applying: {names}")
        if status.pending:
            output = f"{len(status.pending)} pending; run `thedata migrate`"
            return self._result("migrations", HealthStatus.FAIL, output, len(status.pending))
        if status.unknown:
            # a newer release migrated this database: this one may lack what it expects
            output = f"applied by a newer release: {', '.join(map(str, status.unknown))}"
            return self._result("migrations", HealthStatus.WARN, output, 0)
        return self._result("migrations", HealthStatus.PASS, None, 0, "pending")

    def _result(
        self,
        measurement: str,
        status: HealthStatus,
        output: str | None,
        value: float | None = None,
        unit: str | None = None,
    ) -> CheckResult:
        return CheckResult(
            component=self.component,
            measurement=measurement,
            status=status,
            time=self._clock.now(),
            observed_value=value,
            observed_unit=unit if value is not None else None,
            component_type="datastore",
            output=output,
        )


def _describe(error: psycopg.Error) -> str:
    # the driver's message can quote the connection string; name the kind of failure only
    if isinstance(error, psycopg.errors.QueryCanceled):
        return "the database did not answer in time"
    return f"the database is unreachable ({type(error).__name__})"
