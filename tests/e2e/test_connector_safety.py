"""Data sources through HTTP: hostile configs are 400s, the app's own database is no source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import make_settings, tcp_endpoint
from tests.e2e.api import Client, create_org, register
from tests.e2e.conftest import CHEAP_HASHING
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

pytestmark = pytest.mark.postgres


async def create(client: Client, headers: dict[str, str], org: str, **body: Any) -> Any:
    return await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"host": "a..b", "database": "d", "user": "u"}, "/config/host"),
        ({"host": "x" * 64 + ".example.com", "database": "d", "user": "u"}, "/config/host"),
        ({"host": "a,b", "database": "d", "user": "u"}, "/config/host"),
        ({"path": "x" * 1024, "format": "csv"}, "/config/path"),
        ({"path": "a/" + "b" * 256, "format": "jsonl"}, "/config/path"),
    ],
    ids=["empty-label", "long-label", "comma", "1024-path", "long-name"],
)
async def test_configs_no_system_would_take_are_400_with_a_pointer(
    client: Client, config: dict[str, Any], field: str
) -> None:
    """Hosts IDNA cannot encode and paths the file system refuses: 400 naming the field."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    kind = "file" if "path" in config else "postgres"
    response = await create(client, headers, org, name="s", kind=kind, config=config)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    valid = {"host": "db.example.com", "database": "d", "user": "u"}
    if kind == "file":
        valid = {"path": "ok", "format": config["format"]}
    source = (await create(client, headers, org, name="t", kind=kind, config=valid)).json()
    patched = await client.patch(
        f"/v1/orgs/{org}/data-sources/{source['id']}", json={"config": config}, headers=headers
    )
    assert patched.status_code == 400, patched.text
    assert [e["field"] for e in patched.json()["errors"]] == [field]


async def test_the_apps_own_database_is_never_a_source(client: Client, database_url: str) -> None:
    """Reached over TCP with the app's own user: the check says no and discovery is a 400."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    with tcp_endpoint(database_url) as (host, port, database, user):
        config = {"host": host, "port": port, "database": database, "user": user}
        created = await create(client, headers, org, name="own", kind="postgres", config=config)
        path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
        check = (await client.post(path + "/check", headers=headers)).json()
        streams = await client.get(path + "/streams", headers=headers)
    assert check["ok"] is False
    assert "own control database" in check["error"]
    assert streams.status_code == 400
    assert "users" not in streams.text


async def test_a_missing_folder_is_a_400_not_a_retry(client: Client) -> None:
    """Permanent config errors are not outages: no 503, no Retry-After for clients to obey."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    config = {"path": "not-there", "format": "csv"}
    created = await create(client, headers, org, name="f", kind="file", config=config)
    path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}"
    streams = await client.get(path + "/streams", headers=headers)
    assert streams.status_code == 400
    assert "Retry-After" not in streams.headers
    assert streams.json()["errors"][0]["field"] == "/config/path"
    check = (await client.post(path + "/check", headers=headers)).json()
    assert check["ok"] is False
    assert "no folder 'not-there'" in check["error"]


def test_the_multi_tenant_setting_is_the_default() -> None:
    """Out of the box connectors reach only global addresses; ./dev serve opts in to more."""
    assert Settings().connector_allow_private_networks is False
    dev = (Path(__file__).parents[2] / "dev").read_text()
    assert (
        'THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS="${THEDATA_CONNECTOR_ALLOW_PRIVATE_NETWORKS:-true}"'
        in dev
    )


@pytest.fixture
async def multi_tenant_client(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app with the default network setting: private networks off."""
    settings = make_settings(
        database_url=database_url,
        data_root=str(tmp_path / "data"),
        connector_allow_private_networks=False,
        **CHEAP_HASHING,
    )
    async with AsyncTestClient(create_app(build_container(settings))) as test_client:
        yield test_client


async def test_with_private_networks_off_a_database_on_loopback_is_refused(
    multi_tenant_client: Client, source_database_url: str
) -> None:
    """The multi-tenant mode: a tenant's check of a loopback address is refused, not dialled."""
    headers, _ = await register(multi_tenant_client, "ada@x.io")
    org = await create_org(multi_tenant_client, headers)
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        config = {"host": host, "port": port, "database": database, "user": user}
        created = await create(
            multi_tenant_client, headers, org, name="s", kind="postgres", config=config
        )
        path = f"/v1/orgs/{org}/data-sources/{created.json()['id']}/check"
        check = (await multi_tenant_client.post(path, headers=headers)).json()
    assert check["ok"] is False
    assert "not reachable from this server" in check["error"]
