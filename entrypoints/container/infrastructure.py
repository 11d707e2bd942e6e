"""What every feature stands on: settings, clock, ids, the database, secrets, readiness."""

from __future__ import annotations

import functools

from dependency_injector import containers, providers

from thedata.adapters.observability import remember_secret
from thedata.adapters.observability.metrics import count_decrypt_failure, report_slow_statement
from thedata.adapters.observability.run_metrics import PrometheusRunMetrics
from thedata.adapters.observability.tracing import tracer_from_environment
from thedata.adapters.postgres import (
    PostgresHealthCheck,
    PostgresMigrator,
    PostgresRunArrivals,
    PostgresUnitOfWork,
    load_migrations,
    open_pool,
)
from thedata.adapters.secrets import EncryptedFileSecretStore, PostgresSecretStore, SecretCipher
from thedata.adapters.system import SystemClock, UuidV7IdFactory
from thedata.application.ports import NoRunMetrics
from thedata.application.queue_check import QueueCheck
from thedata.application.secret_store_check import SecretStoreCheck
from thedata.application.use_cases import CheckReadiness, ListWorkers, RotateSecretKey
from thedata.application.workers_check import WorkersCheck
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container.resources import (
    database_url,
    load_key_ring,
    secret_file,
)


class Infrastructure(containers.DeclarativeContainer):
    """Shared services; the feature containers build their use cases on these."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    # None unless tracing is configured (OTEL_* with the otel extra, or a host's provider)
    tracer = providers.Singleton(tracer_from_environment)
    run_metrics = providers.Selector(
        providers.Callable(lambda s: "on" if s.metrics else "off", settings),
        on=providers.Singleton(PrometheusRunMetrics),
        off=providers.Singleton(NoRunMetrics),
    )
    ids = providers.Singleton(UuidV7IdFactory)
    migrations = providers.Singleton(load_migrations)
    # a resource, so a bad key ring stops start-up rather than the first request
    key_ring = providers.Resource(load_key_ring, settings)

    database_url = providers.Resource(database_url, settings=settings)
    pool = providers.Resource(
        open_pool,
        conninfo=database_url,
        min_size=settings.provided.db_pool_min_size,
        max_size=settings.provided.db_pool_max_size,
        connect_timeout=settings.provided.db_connect_timeout,
        statement_timeout=settings.provided.db_statement_timeout,
        acquire_timeout=settings.provided.db_acquire_timeout,
        startup_timeout=settings.provided.db_startup_timeout,
        reconnect_window=settings.provided.db_reconnect_window,
        tracer=tracer,
        slow_statement_seconds=settings.provided.db_slow_statement_seconds,
        on_slow_statement=providers.Object(report_slow_statement),
    )
    migrator = providers.Factory(
        PostgresMigrator,
        conninfo=database_url,
        migrations=migrations,
        connect_timeout=settings.provided.db_connect_timeout,
    )

    database_health = providers.Factory(
        PostgresHealthCheck,
        pool=pool,
        migrations=migrations,
        clock=clock,
        timeout=settings.provided.ready_timeout,
    )
    secret_cipher = providers.Singleton(
        SecretCipher, key_ring, on_plaintext=remember_secret, on_failure=count_decrypt_failure
    )
    secret_store = providers.Selector(
        settings.provided.secret_store,
        postgres=providers.Singleton(PostgresSecretStore, pool, secret_cipher),
        file=providers.Singleton(
            EncryptedFileSecretStore, providers.Callable(secret_file, settings), secret_cipher
        ),
    )
    # every unit of work carries the secret store's part in it (see SecretWriter)
    unit_of_work_factory = providers.Callable(
        functools.partial, PostgresUnitOfWork, pool, secrets=secret_store.provided.joined
    )
    rotate_secret_key = providers.Factory(RotateSecretKey, rotation=secret_store)
    secrets_health = providers.Factory(SecretStoreCheck, rotation=secret_store, clock=clock)

    list_workers = providers.Factory(ListWorkers, uow=unit_of_work_factory)
    run_arrivals = providers.Factory(
        PostgresRunArrivals,
        conninfo=database_url,
        connect_timeout=settings.provided.db_connect_timeout,
    )
    workers_health = providers.Factory(WorkersCheck, list_workers=list_workers, clock=clock)
    queue_health = providers.Factory(
        QueueCheck,
        uow=unit_of_work_factory,
        clock=clock,
        warn_after=settings.provided.ready_queue_wait,
    )

    check_readiness = providers.Factory(
        CheckReadiness,
        checks=providers.List(database_health, secrets_health, workers_health, queue_health),
        clock=clock,
        timeout=settings.provided.ready_timeout,
    )
