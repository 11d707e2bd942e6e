"""Steps most HTTP tests start from: accounts, organizations, members and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

PASSWORD = "correct horse battery staple"
Client = AsyncTestClient[Any]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def register(client: Client, email: str, name: str = "Someone") -> tuple[dict[str, str], str]:
    """A new account: its auth headers and user id."""
    response = await client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return bearer(body["access_token"]), body["user"]["id"]


async def create_org(client: Client, headers: dict[str, str], name: str = "Acme") -> str:
    """A new organization owned by the caller: its id."""
    response = await client.post("/v1/orgs", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


async def add_member(
    client: Client, headers: dict[str, str], org: str, email: str, role: str
) -> tuple[dict[str, str], str]:
    """A new account added to ``org`` with ``role``: its auth headers and user id."""
    member_headers, user_id = await register(client, email)
    response = await client.post(
        f"/v1/orgs/{org}/members", json={"email": email, "role": role}, headers=headers
    )
    assert response.status_code == 201, response.text
    return member_headers, user_id


async def create_key(
    client: Client, headers: dict[str, str], org: str, role: str
) -> dict[str, Any]:
    """A new API key of ``org``: the creating response's body."""
    response = await client.post(
        f"/v1/orgs/{org}/api-keys", json={"name": f"{role} key", "role": role}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_type(response: Any) -> str:
    """The problem type's last segment, e.g. ``last-owner``."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    kind: str = response.json()["type"]
    return kind.rsplit("/", 1)[-1]


async def folder_sources(
    client: Client, headers: dict[str, str], org: str, data_root: Path
) -> tuple[str, str]:
    """Two CSV folders of ``org`` under ``data_root`` as data sources: ``in`` and ``out``."""
    ids = []
    for name in ("in", "out"):
        (data_root / org / name).mkdir(parents=True, exist_ok=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        made = await client.post(f"/v1/orgs/{org}/data-sources", json=body, headers=headers)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids[0], ids[1]


def raw_post_scope(path: str, content_length: int) -> dict[str, Any]:
    """The ASGI scope of a JSON POST to ``path`` declaring ``content_length`` bytes, for
    tests that feed the app its body piece by piece (or never)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(content_length).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
