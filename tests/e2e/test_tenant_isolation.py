"""Tenant isolation, generated from the app's route table.

Every route with an organization in its path is called by a user and by an
API key of another organization, with a valid body: each call must be 404 and
leave the database exactly as it was. A new route whose path parameters or
body this test does not know fails it, so isolation is checked from day one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.routes import HTTPRoute

from tests.database import snapshot
from tests.e2e.api import Client, add_member, bearer, create_key, create_org, register

# A valid body for each route that takes one, so that tenancy is the only reason to refuse.
# "{name}" strings are replaced by the ids of the victim organization's resources.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/orgs/{org_id}"): {"name": "Taken over"},
    ("POST", "/v1/orgs/{org_id}/members"): {"email": "eve@x.io", "role": "owner"},
    ("PATCH", "/v1/orgs/{org_id}/members/{user_id}"): {"role": "owner"},
    ("POST", "/v1/orgs/{org_id}/api-keys"): {"name": "backdoor", "role": "owner"},
    ("POST", "/v1/orgs/{org_id}/data-sources"): {
        "name": "mine",
        "kind": "file",
        "config": {"path": "shared", "format": "csv"},
    },
    ("PATCH", "/v1/orgs/{org_id}/data-sources/{data_source_id}"): {"config": {"path": "x"}},
    ("POST", "/v1/orgs/{org_id}/data-sources/{data_source_id}/check"): {},
    ("POST", "/v1/orgs/{org_id}/pipelines"): {
        "name": "exfiltrate",
        "source_id": "{data_source_id}",
        "destination_id": "{data_source_id}",
        "streams": [{"name": "a", "destination": "b", "mode": "full_refresh"}],
    },
    ("PATCH", "/v1/orgs/{org_id}/pipelines/{pipeline_id}"): {"enabled": False},
    ("POST", "/v1/orgs/{org_id}/pipelines/{pipeline_id}/runs"): {},
    ("POST", "/v1/orgs/{org_id}/runs/{run_id}/cancel"): {},
}


def filled(body: Any, values: dict[str, str]) -> Any:
    """``body`` with "{name}" strings replaced by ``values``."""
    if isinstance(body, dict):
        return {k: filled(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [filled(item, values) for item in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return values[body[1:-1]]
    return body


NO_BODY = {"GET", "DELETE"}
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def organization_routes(client: Client) -> list[tuple[str, str]]:
    """(method, path template without types) of every route under an organization."""
    found = []
    for route in client.app.routes:
        if isinstance(route, HTTPRoute) and "{org_id" in route.path:
            template = _PARAMETER.sub(r"{\1}", route.path)
            found += [(m, template) for m in route.methods if m not in {"HEAD", "OPTIONS"}]
    return sorted(found)


async def test_other_organizations_get_404_and_change_nothing(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """A stranger's user token and API key get 404 on every organization route, writing nothing."""
    data_root = tmp_path / "data"  # the client's THEDATA_DATA_ROOT
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    _, bob = await add_member(client, owner, org, "bob@x.io", "member")
    key_id = (await create_key(client, owner, org, "viewer"))["id"]
    (data_root / org / "shared").mkdir(parents=True)  # the organization's own folder
    source = await client.post(
        f"/v1/orgs/{org}/data-sources",
        json={"name": "files", "kind": "file", "config": {"path": "shared", "format": "csv"}},
        headers=owner,
    )
    data_source_id = source.json()["id"]
    pipeline = await client.post(
        f"/v1/orgs/{org}/pipelines",
        json=filled(
            BODIES[("POST", "/v1/orgs/{org_id}/pipelines")], {"data_source_id": data_source_id}
        ),
        headers=owner,
    )
    run = await client.post(f"/v1/orgs/{org}/pipelines/{pipeline.json()['id']}/runs", headers=owner)
    values = {
        "org_id": org,
        "user_id": bob,
        "key_id": key_id,
        "data_source_id": data_source_id,
        "pipeline_id": pipeline.json()["id"],
        "run_id": run.json()["id"],
    }

    stranger, _ = await register(client, "eve@x.io")
    strangers_org = await create_org(client, stranger, "Eve Corp")
    strangers_key = bearer((await create_key(client, stranger, strangers_org, "owner"))["key"])

    # the key's first use is recorded now, so the calls below have nothing to write
    assert (await client.get("/v1/orgs", headers=strangers_key)).status_code == 200

    routes = organization_routes(client)
    assert len(routes) >= 10  # organizations, members and API keys at least
    before = snapshot(database_url)
    for method, template in routes:
        names = _PARAMETER.findall(template)
        unknown = [n for n in names if n not in values]
        assert not unknown, f"{method} {template}: teach this test to fill {unknown}"
        path = template.format(**values)
        if method not in NO_BODY:
            assert (method, template) in BODIES, f"{method} {template}: add a valid body"
        body = filled(BODIES.get((method, template)), values)
        for caller in (stranger, strangers_key):
            response = await client.request(method, path, json=body, headers=caller)
            assert response.status_code == 404, f"{method} {template}: {response.text}"
            assert str(org) not in response.text or "instance" in response.json()
    assert snapshot(database_url) == before

    # the same paths do exist for a member: the 404s above are isolation, not typos
    for method, template in routes:
        if method == "GET":
            response = await client.get(template.format(**values), headers=owner)
            assert response.status_code == 200, f"{template}: {response.text}"
