"""The catalog's use cases on memory adapters, with a fake connector factory."""

from __future__ import annotations

from uuid import UUID

from attrs import define, field

from tests.identity import Identity
from thedata.adapters.memory import (
    FakeConnectorFactory,
    InMemorySecretStore,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.use_cases import (
    CheckDataSource,
    CreateDataSource,
    DeleteDataSource,
    DiscoverStreams,
    NewDataSource,
    SweepOrphanSecrets,
    UpdateDataSource,
)
from thedata.domain.circuit_breaker import BreakerSettings
from thedata.domain.data_sources import DataSource, DataSourceKind
from thedata.domain.principal import Principal

PASSWORD = "the-owner's-password"
WAREHOUSE = {"host": "db.example.com", "port": 5432, "database": "sales", "user": "reader"}


@define
class Catalog:
    """Every data-source use case over one in-memory store, secret store and fake connectors."""

    store: InMemoryStore = field(factory=InMemoryStore)
    connectors: FakeConnectorFactory = field(factory=FakeConnectorFactory)
    identity: Identity = field(init=False)
    secrets: InMemorySecretStore = field(init=False)
    guard: ConnectorGuard = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.identity = Identity(self.uow)
        self.store.clock = self.identity.clock  # the "database's" time is the test's clock
        self.secrets = InMemorySecretStore(self.store, self.identity.clock.now)
        settings = BreakerSettings(minimum_calls=2, window_size=4, wait_in_open=30)
        self.guard = ConnectorGuard(self.identity.clock, settings, timeout=1)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    @property
    def create(self) -> CreateDataSource:
        return CreateDataSource(
            self.uow, self.identity.clock, UuidV7IdFactory(), self.connectors, self.identity.policy
        )

    @property
    def update(self) -> UpdateDataSource:
        return UpdateDataSource(self.uow, self.identity.clock, UuidV7IdFactory(), self.connectors)

    @property
    def delete(self) -> DeleteDataSource:
        return DeleteDataSource(self.uow)

    @property
    def check(self) -> CheckDataSource:
        return CheckDataSource(
            self.uow, self.identity.clock, self.connectors, self.secrets, self.guard
        )

    @property
    def discover(self) -> DiscoverStreams:
        return DiscoverStreams(
            self.uow, self.identity.clock, self.connectors, self.secrets, self.guard
        )

    @property
    def sweep(self) -> SweepOrphanSecrets:
        return SweepOrphanSecrets(self.uow, self.secrets, self.identity.clock)

    async def warehouse(self, member: Principal, org: UUID, name: str = "warehouse") -> DataSource:
        """A postgres data source with a password."""
        created = await self.create(
            member,
            org,
            NewDataSource(name, DataSourceKind.POSTGRES, WAREHOUSE | {"password": PASSWORD}),
        )
        assert isinstance(created, DataSource)
        return created

    def stored_values(self) -> list[bytes]:
        """Every secret value the store holds."""
        return list(self.secrets.values().values())
