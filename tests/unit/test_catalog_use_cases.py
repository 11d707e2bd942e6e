"""The data-source use cases on memory adapters: secrets move with the catalog, all or nothing."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from tests.catalog import PASSWORD, Catalog
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.errors import CircuitOpen, ConnectorFailed, ConnectorMisconfigured
from thedata.application.use_cases import (
    CreatePipeline,
    DataSourceChanges,
    NewDataSource,
    NewPipeline,
)
from thedata.domain.access import Role
from thedata.domain.circuit_breaker import CircuitState
from thedata.domain.data_sources import (
    DataSource,
    DataSourceInUse,
    DataSourceKind,
    DataSourceNameTaken,
)
from thedata.domain.pipelines import Stream, StreamMode
from thedata.domain.principal import Principal


@pytest.fixture
async def catalog() -> Catalog:
    return Catalog()


async def owner_and_org(catalog: Catalog) -> tuple[Principal, UUID]:
    owner = await catalog.identity.user("ada@example.com")
    org, owner = await catalog.identity.organization(owner)
    return owner, org


async def test_a_created_data_source_keeps_its_password_in_the_secret_store_only(
    catalog: Catalog,
) -> None:
    """The password is sealed under the data source's reference; the config has none."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    assert source.secret_fields_set == ("password",)
    assert "password" not in source.config
    assert await catalog.secrets.get(org, source.secrets["password"]) == PASSWORD.encode()


async def test_a_refused_create_leaves_no_secret(catalog: Catalog) -> None:
    """A second data source of the same name is refused and stores nothing."""
    owner, org = await owner_and_org(catalog)
    await catalog.warehouse(owner, org)
    with pytest.raises(DataSourceNameTaken):
        await catalog.warehouse(owner, org)
    assert catalog.stored_values() == [PASSWORD.encode()]


async def test_a_refused_patch_keeps_the_stored_password(catalog: Catalog) -> None:
    """A rename to a taken name with a new password changes neither (finding 8)."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    await catalog.warehouse(owner, org, "other")
    with pytest.raises(DataSourceNameTaken):
        await catalog.update(
            owner, org, source.id, DataSourceChanges("other", {"password": "new-password"})
        )
    assert await catalog.secrets.get(org, source.secrets["password"]) == PASSWORD.encode()
    assert b"new-password" not in catalog.stored_values()


@pytest.mark.parametrize(
    "moved",
    [
        {"host": "evil.example.net"},
        {"port": 6543},
        {"database": "x"},
        {"user": "x"},
        {"sslmode": "disable"},
    ],
)
async def test_moving_a_data_source_forgets_its_password(
    catalog: Catalog, moved: dict[str, object]
) -> None:
    """A member who points the source elsewhere does not take the password along (finding 1)."""
    owner, org = await owner_and_org(catalog)
    member = await catalog.identity.member(org, owner, "mallory@example.com", Role.MEMBER)
    source = await catalog.warehouse(owner, org)
    updated = await catalog.update(member, org, source.id, DataSourceChanges(config=moved))
    assert updated.secret_fields_set == ()
    assert catalog.stored_values() == []
    await catalog.check(member, org, source.id)
    assert catalog.connectors.built[-1].secrets == {}


async def test_moving_with_a_new_password_uses_the_new_one(catalog: Catalog) -> None:
    """A new target with its own password keeps that password, and only that one."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    changes = DataSourceChanges(config={"host": "new.example.com", "password": "new-password"})
    updated = await catalog.update(owner, org, source.id, changes)
    assert updated.secret_fields_set == ("password",)
    assert catalog.stored_values() == [b"new-password"]


async def test_a_change_elsewhere_keeps_the_password(catalog: Catalog) -> None:
    """Renaming or changing a field that is not the target keeps the stored password."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    changes = DataSourceChanges("renamed", {"schema": "analytics"})
    updated = await catalog.update(owner, org, source.id, changes)
    assert updated.secrets == source.secrets
    assert catalog.stored_values() == [PASSWORD.encode()]


async def test_a_password_set_to_null_is_forgotten(catalog: Catalog) -> None:
    """``"password": null`` clears the secret."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    updated = await catalog.update(
        owner, org, source.id, DataSourceChanges(config={"password": None})
    )
    assert updated.secret_fields_set == ()
    assert catalog.stored_values() == []


async def test_a_replaced_password_leaves_one_value(catalog: Catalog) -> None:
    """A new password replaces the old value; nothing else stays behind."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    changes = DataSourceChanges(config={"password": "rotated-password"})
    updated = await catalog.update(owner, org, source.id, changes)
    assert updated.secrets["password"] != source.secrets["password"]
    assert catalog.stored_values() == [b"rotated-password"]


async def test_deleting_a_data_source_deletes_its_secrets(catalog: Catalog) -> None:
    """The data source and its password go together."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    await catalog.delete(owner, org, source.id)
    assert catalog.stored_values() == []


async def test_a_data_source_in_use_keeps_its_secrets(catalog: Catalog) -> None:
    """A refused delete changes nothing."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    destination = await catalog.warehouse(owner, org, "lake")
    create = CreatePipeline(
        catalog.uow, catalog.identity.clock, UuidV7IdFactory(), catalog.identity.policy
    )
    streams = [Stream("orders", "orders_copy", StreamMode.FULL_REFRESH)]
    await create(owner, org, NewPipeline("nightly", source.id, destination.id, streams))
    with pytest.raises(DataSourceInUse):
        await catalog.delete(owner, org, source.id)
    assert len(catalog.stored_values()) == 2


async def test_a_misconfigured_source_is_a_failed_check_that_never_opens_the_circuit(
    catalog: Catalog,
) -> None:
    """Bad config answers ok: false with the reason; the breaker stays closed."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    catalog.connectors.connector_script.failure = ConnectorMisconfigured("no such database")
    for _ in range(6):
        outcome = await catalog.check(owner, org, source.id)
        assert (outcome.ok, outcome.error) == (False, "no such database")
    assert catalog.guard.state(source.id) is CircuitState.CLOSED


async def test_a_viewer_cannot_open_the_circuit_but_respects_an_open_one(catalog: Catalog) -> None:
    """Failed discoveries of a viewer do not count; once members' failures open it, it refuses."""
    owner, org = await owner_and_org(catalog)
    viewer = await catalog.identity.member(org, owner, "vic@example.com", Role.VIEWER)
    source = await catalog.warehouse(owner, org)
    catalog.connectors.connector_script.failure = ConnectorFailed("unreachable")
    for _ in range(6):
        with pytest.raises(ConnectorFailed):
            await catalog.discover(viewer, org, source.id)
    assert catalog.guard.state(source.id) is CircuitState.CLOSED
    for _ in range(2):
        await catalog.check(owner, org, source.id)
    assert catalog.guard.state(source.id) is CircuitState.OPEN
    calls = catalog.connectors.connector_script.calls
    with pytest.raises(CircuitOpen):
        await catalog.discover(viewer, org, source.id)
    assert catalog.connectors.connector_script.calls == calls


async def test_the_sweep_removes_old_orphans_only(catalog: Catalog) -> None:
    """Referenced and young secrets stay; an old value nothing points at goes."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    orphan = f"data-source/{source.id}/password/orphan"
    await catalog.secrets.put(org, orphan, b"left-behind")
    assert await catalog.sweep() == 0  # too young: a unit of work may be about to use it
    catalog.identity.clock.advance(timedelta(hours=1))
    assert await catalog.sweep() == 1
    assert catalog.stored_values() == [PASSWORD.encode()]


async def test_a_file_source_has_no_secret(catalog: Catalog) -> None:
    """A kind without secret fields stores nothing in the secret store."""
    owner, org = await owner_and_org(catalog)
    created = await catalog.create(
        owner, org, NewDataSource("files", DataSourceKind.FILE, {"path": "in", "format": "csv"})
    )
    assert isinstance(created, DataSource)
    assert created.secrets == {}
    assert catalog.stored_values() == []


async def test_a_lost_password_is_a_failed_check_not_a_missing_data_source(
    catalog: Catalog,
) -> None:
    """A stored password that is gone: check is ok: false, discovery a 400-kind error, and
    neither names the secret store's reference."""
    owner, org = await owner_and_org(catalog)
    source = await catalog.warehouse(owner, org)
    await catalog.secrets.delete(org, source.secrets["password"])
    outcome = await catalog.check(owner, org, source.id)
    assert not outcome.ok
    assert outcome.error is not None
    assert "password" in outcome.error
    assert source.secrets["password"] not in outcome.error
    with pytest.raises(ConnectorMisconfigured) as failed:
        await catalog.discover(owner, org, source.id)
    assert [e.field for e in failed.value.errors] == ["/config/password"]
    assert catalog.connectors.built == []  # no connector was given an empty password
