"""The composition root: the one module that names concrete adapters and wires them.

The HTTP app, the CLI, the worker and library users all start from
``build_container``; tests override single providers instead of patching.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path

import structlog
from dependency_injector import containers, providers

from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy, log_transition
from thedata.adapters.observability import remember_secret, route_to_stdlib_logging
from thedata.adapters.postgres import (
    EmbeddedPostgres,
    PostgresHealthCheck,
    PostgresMigrator,
    PostgresUnitOfWork,
    load_migrations,
    open_pool,
)
from thedata.adapters.secrets import (
    EncryptedFileSecretStore,
    KeyRing,
    KeyRingError,
    PostgresSecretStore,
    SecretCipher,
    create_key_file,
    load_key_file,
    parse_key_ring,
)
from thedata.adapters.security import Argon2PasswordHasher, SecureCredentialGenerator
from thedata.adapters.system import SystemClock, UuidV7IdFactory
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.secret_store_check import SecretStoreCheck
from thedata.application.use_cases import (
    AddMember,
    Authenticate,
    ChangeMemberRole,
    CheckDataSource,
    CheckReadiness,
    CreateApiKey,
    CreateDataSource,
    CreateOrganization,
    CreatePipeline,
    DeleteDataSource,
    DeleteOrganization,
    DeletePipeline,
    DiscoverStreams,
    GetCurrentUser,
    GetDataSource,
    GetOrganization,
    GetPipeline,
    IssueAccessToken,
    ListApiKeys,
    ListDataSources,
    ListMembers,
    ListOrganizations,
    ListPipelines,
    RegisterUser,
    RemoveMember,
    RevokeAccessToken,
    RevokeApiKey,
    RotateSecretKey,
    SweepOrphanSecrets,
    UpdateCurrentUser,
    UpdateDataSource,
    UpdateOrganization,
    UpdatePipeline,
)
from thedata.domain.circuit_breaker import BreakerSettings
from thedata.entrypoints.config import Settings, load_settings, validate_settings
from thedata.entrypoints.resolve import maybe_await

log = structlog.get_logger(__name__)


def embedded_data_dir(settings: Settings) -> Path:
    """Where the embedded PostgreSQL keeps its data."""
    return Path(settings.home) / "postgres"


@contextmanager
def running_database(settings: Settings) -> Iterator[str]:
    """The configured database's URL, or that of an embedded one running for the block."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(embedded_data_dir(settings))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


async def database_url(settings: Settings) -> AsyncIterator[str]:
    """``running_database`` as a container resource, from start-up to shutdown."""
    database = running_database(settings)
    # pgserver blocks while initdb and pg_ctl run; keep the event loop free meanwhile
    url = await asyncio.to_thread(database.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


KEY_FILE_NAME = "secret-keys"


def load_key_ring(settings: Settings) -> KeyRing:
    """The configured key ring; with the embedded database and none configured, a generated one.

    With an external database a generated key would seal secrets that other
    processes (and the next deployment) cannot open, so one must be configured.
    """
    if settings.secret_keys is not None:
        return parse_key_ring(settings.secret_keys)
    if settings.secret_key_file is not None:
        return load_key_file(Path(settings.secret_key_file))
    if settings.database_url is not None:
        raise KeyRingError(
            "THEDATA_SECRET_KEYS or THEDATA_SECRET_KEY_FILE is required with an external "
            "database; `thedata secrets generate-key` makes a key"
        )
    path = Path(settings.home) / KEY_FILE_NAME
    try:
        ring = create_key_file(path)
    except FileExistsError:
        return load_key_file(path)
    log.warning(
        "generated a secret key file for the embedded database; back it up, or set "
        "THEDATA_SECRET_KEYS",
        path=str(path),
    )
    return ring


def secret_file(settings: Settings) -> Path:
    """Where the file secret store keeps its document."""
    return Path(settings.secret_file or Path(settings.home) / "secrets.json")


def data_root(settings: Settings) -> Path:
    """The folder file data sources live under (created if missing)."""
    root = Path(settings.data_root or Path(settings.home) / "data")
    root.mkdir(parents=True, exist_ok=True)
    return root


def breaker_settings(settings: Settings) -> BreakerSettings:
    """Every data source's circuit breaker knobs, from the settings."""
    return BreakerSettings(
        failure_rate_threshold=settings.breaker_failure_rate,
        minimum_calls=settings.breaker_minimum_calls,
        window_size=settings.breaker_window,
        wait_in_open=settings.breaker_open_seconds,
        permitted_calls_in_half_open=settings.breaker_half_open_calls,
    )


def identity_policy(settings: Settings) -> IdentityPolicy:
    """The identity rules' limits, from the settings."""
    return IdentityPolicy(
        allow_signup=settings.allow_signup,
        access_token_ttl=timedelta(seconds=settings.access_token_ttl),
        login_attempt_limit=settings.login_attempt_limit,
        login_account_limit=settings.login_account_limit,
        login_address_limit=settings.login_address_limit,
        login_window=timedelta(seconds=settings.login_window),
    )


class Container(containers.DeclarativeContainer):
    """Every service of theData.io, built lazily; resources open in ``init_resources``."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
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
    secret_cipher = providers.Singleton(SecretCipher, key_ring, on_plaintext=remember_secret)
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
    secrets_health = providers.Factory(
        SecretStoreCheck, store=secret_store, rotation=secret_store, clock=clock
    )

    check_readiness = providers.Factory(
        CheckReadiness,
        checks=providers.List(database_health, secrets_health),
        clock=clock,
        timeout=settings.provided.ready_timeout,
    )

    # identity and tenancy
    ids = providers.Singleton(UuidV7IdFactory)
    password_hasher = providers.Singleton(
        Argon2PasswordHasher,
        memory_kib=settings.provided.password_hash_memory_kib,
        iterations=settings.provided.password_hash_iterations,
    )
    credentials = providers.Singleton(SecureCredentialGenerator)
    identity_policy = providers.Singleton(identity_policy, settings)

    authenticate = providers.Factory(
        Authenticate, uow=unit_of_work_factory, clock=clock, policy=identity_policy
    )
    register_user = providers.Factory(
        RegisterUser,
        uow=unit_of_work_factory,
        clock=clock,
        ids=ids,
        hasher=password_hasher,
        credentials=credentials,
        policy=identity_policy,
    )
    issue_access_token = providers.Factory(
        IssueAccessToken,
        uow=unit_of_work_factory,
        clock=clock,
        hasher=password_hasher,
        credentials=credentials,
        policy=identity_policy,
    )
    revoke_access_token = providers.Factory(RevokeAccessToken, uow=unit_of_work_factory)
    get_current_user = providers.Factory(GetCurrentUser, uow=unit_of_work_factory)
    update_current_user = providers.Factory(
        UpdateCurrentUser,
        uow=unit_of_work_factory,
        clock=clock,
        hasher=password_hasher,
        policy=identity_policy,
    )
    list_organizations = providers.Factory(ListOrganizations, uow=unit_of_work_factory)
    create_organization = providers.Factory(
        CreateOrganization, uow=unit_of_work_factory, clock=clock, ids=ids, policy=identity_policy
    )
    get_organization = providers.Factory(GetOrganization, uow=unit_of_work_factory)
    update_organization = providers.Factory(
        UpdateOrganization, uow=unit_of_work_factory, clock=clock
    )
    delete_organization = providers.Factory(DeleteOrganization, uow=unit_of_work_factory)
    list_members = providers.Factory(ListMembers, uow=unit_of_work_factory)
    add_member = providers.Factory(
        AddMember, uow=unit_of_work_factory, clock=clock, policy=identity_policy
    )
    change_member_role = providers.Factory(ChangeMemberRole, uow=unit_of_work_factory)
    remove_member = providers.Factory(RemoveMember, uow=unit_of_work_factory)
    list_api_keys = providers.Factory(ListApiKeys, uow=unit_of_work_factory, clock=clock)
    create_api_key = providers.Factory(
        CreateApiKey,
        uow=unit_of_work_factory,
        clock=clock,
        ids=ids,
        credentials=credentials,
        policy=identity_policy,
    )
    revoke_api_key = providers.Factory(RevokeApiKey, uow=unit_of_work_factory)

    # data sources and pipelines
    connectors = providers.Singleton(
        DefaultConnectorFactory,
        data_root=providers.Callable(data_root, settings),
        policy=providers.Factory(
            NetworkPolicy, allow_private=settings.provided.connector_allow_private_networks
        ),
        timeout=settings.provided.connector_timeout,
        # the service's own database: never a data source, whatever the network setting
        control_database=database_url,
    )
    connector_guard = providers.Singleton(
        ConnectorGuard,
        clock=clock,
        settings=providers.Callable(breaker_settings, settings),
        timeout=settings.provided.connector_timeout,
        on_transition=log_transition,
    )
    list_data_sources = providers.Factory(ListDataSources, uow=unit_of_work_factory)
    get_data_source = providers.Factory(GetDataSource, uow=unit_of_work_factory)
    create_data_source = providers.Factory(
        CreateDataSource,
        uow=unit_of_work_factory,
        clock=clock,
        ids=ids,
        connectors=connectors,
        policy=identity_policy,
    )
    update_data_source = providers.Factory(
        UpdateDataSource, uow=unit_of_work_factory, clock=clock, ids=ids, connectors=connectors
    )
    delete_data_source = providers.Factory(DeleteDataSource, uow=unit_of_work_factory)
    sweep_orphan_secrets = providers.Factory(
        SweepOrphanSecrets, uow=unit_of_work_factory, secrets=secret_store, clock=clock
    )
    check_data_source = providers.Factory(
        CheckDataSource,
        uow=unit_of_work_factory,
        clock=clock,
        connectors=connectors,
        secrets=secret_store,
        guard=connector_guard,
    )
    discover_streams = providers.Factory(
        DiscoverStreams,
        uow=unit_of_work_factory,
        clock=clock,
        connectors=connectors,
        secrets=secret_store,
        guard=connector_guard,
    )
    list_pipelines = providers.Factory(ListPipelines, uow=unit_of_work_factory)
    get_pipeline = providers.Factory(GetPipeline, uow=unit_of_work_factory)
    create_pipeline = providers.Factory(
        CreatePipeline, uow=unit_of_work_factory, clock=clock, ids=ids, policy=identity_policy
    )
    update_pipeline = providers.Factory(UpdatePipeline, uow=unit_of_work_factory, clock=clock)
    delete_pipeline = providers.Factory(DeletePipeline, uow=unit_of_work_factory)


@asynccontextmanager
async def started(container: Container) -> AsyncIterator[Container]:
    """Open the container's resources for the ``async with`` block and close them after it."""
    await maybe_await(container.init_resources())
    try:
        yield container
    finally:
        await maybe_await(container.shutdown_resources())


def build_container(settings: Settings | None = None) -> Container:
    """A container for ``settings``, or for the environment's settings when none are given.

    Settings built in code are validated like those read from the environment
    (``ConfigurationError`` if they break a constraint). Nothing connects yet:
    call ``await container.init_resources()`` first and
    ``await container.shutdown_resources()`` when done.
    """
    valid = validate_settings(settings) if settings is not None else load_settings()
    route_to_stdlib_logging()
    return Container(settings=valid)
