"""Each adapter assigned to the port it implements, so mypy proves it fits (nothing runs here).

Adapters do not inherit from their ports; without these assignments a drifted
signature would only show up when the container wires the adapter in.
"""

from __future__ import annotations

from thedata.adapters.connectors import DefaultConnectorFactory, FileConnector, PostgresConnector
from thedata.adapters.memory import InMemorySecretStore, InMemoryUnitOfWork
from thedata.adapters.postgres import PostgresUnitOfWork, TransactionSecrets
from thedata.adapters.secrets import EncryptedFileSecretStore, PostgresSecretStore
from thedata.adapters.security import Argon2PasswordHasher, SecureCredentialGenerator
from thedata.adapters.system import SystemClock, UuidV7IdFactory
from thedata.application import ports


def conformance(
    memory: InMemoryUnitOfWork,
    postgres: PostgresUnitOfWork,
    hasher: Argon2PasswordHasher,
    credentials: SecureCredentialGenerator,
    ids: UuidV7IdFactory,
    clock: SystemClock,
    connectors: DefaultConnectorFactory,
    postgres_connector: PostgresConnector,
    file_connector: FileConnector,
    postgres_secrets: PostgresSecretStore,
    file_secrets: EncryptedFileSecretStore,
    memory_secrets: InMemorySecretStore,
) -> None:
    """Never called; type-checked."""
    memory_uow: ports.UnitOfWork = memory
    postgres_uow: ports.UnitOfWork = postgres
    password_hasher: ports.PasswordHasher = hasher
    credential_generator: ports.CredentialGenerator = credentials
    id_factory: ports.IdFactory = ids
    system_clock: ports.Clock = clock
    connector_factory: ports.ConnectorFactory = connectors
    connector_kinds: list[ports.Connector] = [postgres_connector, file_connector]
    secret_stores: list[ports.SecretStore] = [postgres_secrets, file_secrets, memory_secrets]
    secret_writers: list[ports.SecretWriter] = [
        postgres_secrets.joined(lambda: postgres.connection),
        file_secrets.joined(None),
        memory.secrets,
        postgres.secrets,
    ]
    rotations: list[ports.SecretKeyRotation] = [postgres_secrets, file_secrets]
    del memory_uow, postgres_uow, password_hasher, credential_generator, id_factory, system_clock
    # what the Postgres unit of work asks of a secret store that joins it
    joined: list[TransactionSecrets] = [
        postgres_secrets.joined(lambda: postgres.connection),
        file_secrets.joined(None),
    ]
    del connector_factory, connector_kinds, secret_stores, rotations, secret_writers, joined
