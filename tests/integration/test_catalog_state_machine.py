"""The data-source and pipeline use cases, driven at random on PostgreSQL and on memory.

A hypothesis state machine creates, renames, moves, re-keys and deletes data
sources and pipelines through the real use cases on both adapters at once. The
oracle is a plain model of what each data source's password should be: after
every step both adapters must give the same answers (or refuse with the same
error), every stored password must read back as the model says, and neither
secret store may hold a value no data source points at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from psycopg_pool import AsyncConnectionPool

from tests.conftest import pool_on
from tests.contract.test_identity_repositories import an_organization
from tests.identity import ManualClock
from tests.secrets import cipher
from thedata.adapters.memory import (
    FakeConnectorFactory,
    InMemorySecretStore,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from thedata.adapters.postgres import PostgresUnitOfWork
from thedata.adapters.secrets import PostgresSecretStore
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import SecretStore, UnitOfWork
from thedata.application.use_cases import (
    CreateDataSource,
    CreatePipeline,
    DataSourceChanges,
    DeleteDataSource,
    DeletePipeline,
    NewDataSource,
    NewPipeline,
    UpdateDataSource,
)
from thedata.domain.access import Role
from thedata.domain.data_sources import DataSource, DataSourceKind
from thedata.domain.errors import DomainError
from thedata.domain.pagination import PageRequest
from thedata.domain.pipelines import Pipeline, Stream, StreamMode
from thedata.domain.principal import Principal

pytestmark = pytest.mark.postgres

NAMES = st.sampled_from(["a", "b", "c"])
PASSWORDS = st.sampled_from(["first-password", "second-password", "third-password"])
WAREHOUSE = {"host": "db.example.com", "port": 5432, "database": "d", "user": "u"}
CHANGES = st.one_of(
    st.builds(lambda name: DataSourceChanges(name=name), NAMES),
    st.builds(lambda p: DataSourceChanges(config={"password": p}), PASSWORDS),
    st.just(DataSourceChanges(config={"password": None})),
    st.just(DataSourceChanges(config={"schema": "analytics"})),
    st.sampled_from(["a.example.com", "b.example.com"]).map(
        lambda host: DataSourceChanges(config={"host": host})
    ),
    st.builds(
        lambda host, p: DataSourceChanges(config={"host": host, "password": p}),
        st.sampled_from(["a.example.com", "b.example.com"]),
        PASSWORDS,
    ),
)


class Side:
    """The use cases over one adapter: a unit-of-work factory and its secret store."""

    def __init__(self, uow: Callable[[], UnitOfWork], secrets: SecretStore) -> None:
        clock, ids, connectors = ManualClock(), UuidV7IdFactory(), FakeConnectorFactory()
        self.uow, self.secrets = uow, secrets
        self.create = CreateDataSource(uow, clock, ids, connectors, IdentityPolicy())
        self.update = UpdateDataSource(uow, clock, ids, connectors)
        self.delete = DeleteDataSource(uow)
        self.create_pipeline = CreatePipeline(uow, clock, ids, IdentityPolicy())
        self.delete_pipeline = DeletePipeline(uow)

    async def data_sources(self, org: UUID) -> dict[str, DataSource]:
        async with self.uow() as uow:
            page = await uow.data_sources.list(org, PageRequest(200))
        return {d.name: d for d in page.items}


def outcome(result: Any) -> Any:
    """What a caller sees of a result: the error's type, or the public fields."""
    if isinstance(result, DomainError):
        return type(result)
    if isinstance(result, DataSource):
        return (result.name, dict(result.config), result.secret_fields_set)
    if isinstance(result, Pipeline):
        return result.name
    return result


class CatalogMachine(RuleBasedStateMachine):
    """Both adapters in lock step, against a model of every data source's password."""

    pool: AsyncConnectionPool
    loop: asyncio.AbstractEventLoop

    sources = Bundle("sources")
    pipelines = Bundle("pipelines")

    def __init__(self) -> None:
        super().__init__()
        self.org = an_organization(slug=f"o{UuidV7IdFactory().new_id().hex[-12:]}")
        self.principal = Principal.api_key(UUID(int=1), self.org.id, Role.OWNER)
        postgres_store = PostgresSecretStore(self.pool, cipher(1))
        memory = InMemoryStore()
        self.sides = (
            Side(
                lambda: PostgresUnitOfWork(self.pool, secrets=postgres_store.joined), postgres_store
            ),
            Side(lambda: InMemoryUnitOfWork(memory), InMemorySecretStore(memory)),
        )
        self.passwords: dict[str, str | None] = {}
        self.hosts: dict[str, str] = {}
        """The model's host of each data source, by name."""
        """The model: each data source (by name) and the password it should hold."""
        for side in self.sides:
            self.run(self._add_organization(side))

    async def _add_organization(self, side: Side) -> None:
        async with side.uow() as uow:
            await uow.organizations.add(self.org)
            await uow.commit()

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def both(self, call: Callable[[Side], Any]) -> list[Any]:
        """The same call on both sides; results or the domain errors they raised."""
        results = []
        for side in self.sides:
            try:
                results.append(self.run(call(side)))
            except DomainError as error:
                results.append(error)
        assert outcome(results[0]) == outcome(results[1])
        return results

    @rule(target=sources, name=NAMES, password=st.none() | PASSWORDS)
    def create(self, name: str, password: str | None) -> str:
        config = WAREHOUSE | ({"password": password} if password else {})
        command = NewDataSource(name, DataSourceKind.POSTGRES, config)
        first, _ = self.both(lambda side: side.create(self.principal, self.org.id, command))
        if not isinstance(first, DomainError):
            self.passwords[name] = password
        return name

    @rule(name=sources, changes=CHANGES)
    def update(self, name: str, changes: DataSourceChanges) -> None:
        ids = [self.run(side.data_sources(self.org.id)).get(name) for side in self.sides]
        if ids[0] is None:
            return
        first, _ = self.both(
            lambda side: side.update(
                self.principal, self.org.id, ids[self.sides.index(side)].id, changes
            )
        )
        if isinstance(first, DomainError):
            return
        config = dict(changes.config or {})
        # a move is a host that differs from the source's current one, not a host restated
        moved = "host" in config and config["host"] != self.hosts.get(name, WAREHOUSE["host"])
        host = config.get("host", self.hosts.pop(name, WAREHOUSE["host"]))
        self.hosts[changes.name or name] = host
        password = self.passwords.pop(name)
        if "password" in config:
            password = config["password"]
        elif moved:
            password = None
        self.passwords[changes.name or name] = password

    @rule(name=sources)
    def delete(self, name: str) -> None:
        found = [self.run(side.data_sources(self.org.id)).get(name) for side in self.sides]
        if found[0] is None:
            return
        first, _ = self.both(
            lambda side: side.delete(self.principal, self.org.id, found[self.sides.index(side)].id)
        )
        if not isinstance(first, DomainError):
            del self.passwords[name]
            self.hosts.pop(name, None)

    @rule(target=pipelines, source=sources, destination=sources, name=NAMES)
    def create_pipeline(self, source: str, destination: str, name: str) -> str:
        streams = [Stream("orders", f"copy_{name}", StreamMode.FULL_REFRESH)]

        async def create(side: Side) -> Pipeline:
            known = await side.data_sources(self.org.id)
            if source not in known or destination not in known:
                return None  # type: ignore[return-value]
            command = NewPipeline(name, known[source].id, known[destination].id, streams)
            return await side.create_pipeline(self.principal, self.org.id, command)

        self.both(create)
        return name

    @rule(name=pipelines)
    def delete_pipeline(self, name: str) -> None:
        async def delete(side: Side) -> None:
            async with side.uow() as uow:
                page = await uow.pipelines.list(self.org.id, PageRequest(200))
            for pipeline in page.items:
                if pipeline.name == name:
                    await side.delete_pipeline(self.principal, self.org.id, pipeline.id)

        self.both(delete)

    @invariant()
    def every_password_reads_back_and_nothing_else_is_stored(self) -> None:
        for side in self.sides:
            sources = self.run(side.data_sources(self.org.id))
            assert set(sources) == set(self.passwords)
            stored = set()
            for name, source in sources.items():
                expected = self.passwords[name]
                assert source.secret_fields_set == (("password",) if expected else ())
                for reference in source.secrets.values():
                    value = self.run(side.secrets.get(self.org.id, reference))
                    assert value.decode() == expected
                    stored.add(reference)
            inventory = self.run(side.secrets.inventory())
            assert {s.reference for s in inventory if s.organization_id == self.org.id} == stored


@pytest.fixture
def machine_pool(migrated_database_url: str) -> Any:
    loop = asyncio.new_event_loop()
    resource = pool_on(migrated_database_url, max_size=1)
    pool = loop.run_until_complete(resource.__aenter__())
    yield loop, pool
    loop.run_until_complete(resource.__aexit__(None, None, None))
    loop.close()


def test_the_catalog_keeps_secrets_with_its_data_sources_on_both_adapters(
    machine_pool: Any,
) -> None:
    """Random creates, updates, deletes and pipelines: both adapters agree with the model."""
    CatalogMachine.loop, CatalogMachine.pool = machine_pool
    run_state_machine_as_test(
        CatalogMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
