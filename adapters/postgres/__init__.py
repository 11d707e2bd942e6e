"""The control database on PostgreSQL: pool, unit of work, migrations, health, embedded server."""

from thedata.adapters.postgres.embedded import EmbeddedPostgres, EmbeddedPostgresUnavailable
from thedata.adapters.postgres.errors import translated_errors
from thedata.adapters.postgres.handoff import handing_on, request_scope
from thedata.adapters.postgres.health import PostgresHealthCheck
from thedata.adapters.postgres.migrator import (
    Migration,
    MigrationError,
    MigrationStatus,
    PostgresMigrator,
    load_migrations,
    read_status,
)
from thedata.adapters.postgres.pool import open_pool
from thedata.adapters.postgres.retry import TRANSIENT_ERRORS, retry_transient
from thedata.adapters.postgres.run_arrivals import PostgresRunArrivals
from thedata.adapters.postgres.unit_of_work import (
    PostgresUnitOfWork,
    SecretsJoiner,
    TransactionSecrets,
)

__all__ = [
    "TRANSIENT_ERRORS",
    "EmbeddedPostgres",
    "EmbeddedPostgresUnavailable",
    "Migration",
    "MigrationError",
    "MigrationStatus",
    "PostgresHealthCheck",
    "PostgresMigrator",
    "PostgresRunArrivals",
    "PostgresUnitOfWork",
    "SecretsJoiner",
    "TransactionSecrets",
    "handing_on",
    "load_migrations",
    "open_pool",
    "read_status",
    "request_scope",
    "retry_transient",
    "translated_errors",
]
