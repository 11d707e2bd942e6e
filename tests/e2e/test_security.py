"""Security as tests: the OWASP API Security Top 10 (2023) items the other modules leave open.

- API5 (function-level authorization): a role x route matrix written from API.md's
  words, generated over the app's route table, for users and API keys of each role.
- API3 (object property level): no hash, secret or ciphertext in any response or
  response schema; read-only fields sent in bodies are refused.
- API4 (resource consumption): page size and body size on every route.
- API2 (authentication): every route refuses no token, a made-up one and a revoked one.
- API8 (misconfiguration): no debug text in error bodies; credentials never cached.

Covered elsewhere, so not repeated here: tenant isolation (API1) in test_tenant_isolation,
JSON nesting depth on every JSON route in test_hostile_input, sign-in and
current-password rate limits (429 + Retry-After) in test_auth, ``limit`` out of range
on /v1/orgs in test_organizations, the forced 500 of a probe route revealing nothing in
test_problems, OPTIONS and Allow in test_openapi, sign-up's Cache-Control in test_auth,
SSRF through HTTP in test_connector_safety (and address
classes in tests/unit/test_ssrf_addresses.py).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from httpx import Response
from psycopg import sql

from tests.database import snapshot
from tests.e2e.api import (
    PASSWORD,
    Client,
    add_member,
    bearer,
    create_key,
    create_org,
    register,
)
from tests.e2e.conftest import MAX_BODY
from tests.e2e.test_tenant_isolation import BODIES, filled, organization_routes

pytestmark = pytest.mark.postgres

ROLES = ("owner", "admin", "member", "viewer")
RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # viewer 0 … owner 3

ORG = "/v1/orgs/{org_id}"
MEMBER = ORG + "/members/{user_id}"
KEY = ORG + "/api-keys/{key_id}"
SOURCE = ORG + "/data-sources/{data_source_id}"
PIPELINE = ORG + "/pipelines/{pipeline_id}"
RUN = ORG + "/runs/{run_id}"

# API.md, "Organizations and members": "viewer reads; member also creates, edits and runs
# data sources and pipelines; admin also manages members and API keys; owner also edits or
# deletes the organization and grants `owner`." The weakest role allowed each route with
# the body BODIES gives it (BODIES grants `owner` to new members and keys: owners only).
# A route missing here fails the matrix test: a new route needs a decision.
WEAKEST_ROLE: dict[tuple[str, str], str] = {
    ("GET", ORG): "viewer",
    ("PATCH", ORG): "owner",  # "owner also edits … the organization"
    ("DELETE", ORG): "owner",  # "… or deletes the organization"
    ("GET", ORG + "/members"): "viewer",  # "viewer reads"
    ("POST", ORG + "/members"): "owner",  # the body grants owner
    ("PATCH", MEMBER): "owner",  # the body grants owner
    ("DELETE", MEMBER): "admin",  # "admin also manages members" (the target is a member)
    # API.md is ambiguous here ("viewer reads" / "admin also manages … API keys"): the
    # stricter reading, that listing keys is part of managing them, is the safe one
    ("GET", ORG + "/api-keys"): "admin",
    ("POST", ORG + "/api-keys"): "owner",  # an owner key is a grant of owner
    ("DELETE", KEY): "admin",  # "admin also manages … API keys"
    ("GET", ORG + "/data-sources"): "viewer",
    ("POST", ORG + "/data-sources"): "member",  # "member also creates …"
    ("GET", SOURCE): "viewer",
    ("PATCH", SOURCE): "member",  # "… edits …"
    ("DELETE", SOURCE): "member",  # editing includes removing (no stronger role names it)
    ("POST", SOURCE + "/check"): "member",  # "… runs data sources": a check dials out
    ("GET", SOURCE + "/streams"): "viewer",  # reading what the source holds
    ("GET", ORG + "/pipelines"): "viewer",
    ("POST", ORG + "/pipelines"): "member",
    ("GET", PIPELINE): "viewer",
    ("PATCH", PIPELINE): "member",
    ("DELETE", PIPELINE): "member",
    ("POST", PIPELINE + "/runs"): "member",  # "… runs … pipelines"
    ("GET", PIPELINE + "/runs"): "viewer",
    ("GET", ORG + "/runs"): "viewer",
    ("GET", RUN): "viewer",
    ("POST", RUN + "/cancel"): "member",  # stopping a run is part of running pipelines
}

# The same routes with a weaker grant in the body, so that admins are seen to be allowed
# what API.md gives them: (method, template, body, weakest role).
GRANTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", ORG + "/members", {"email": "fay@x.io", "role": "member"}, "admin"),
    ("PATCH", MEMBER, {"role": "viewer"}, "admin"),
    ("POST", ORG + "/api-keys", {"name": "robot", "role": "admin"}, "admin"),
    ("POST", ORG + "/api-keys", {"name": "reader", "role": "viewer"}, "admin"),
]

# BODIES points PATCH data-sources at a folder that does not exist; this one is valid, so
# that the role is the only reason to refuse.
VALID_BODIES = BODIES | {("PATCH", SOURCE): {"config": {"path": "shared", "format": "csv"}}}

# Words that only debugging output carries (API.md: "Never a stack trace, SQL text or a
# secret").
DEBUG_TEXT = re.compile(
    r"Traceback|File \"|\.py\b|line \d+|psycopg|asyncpg|litestar\.|"
    r"\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b|violates|constraint",
)


def assert_refused(response: Response, status: int, what: str) -> None:
    """A problem of ``status`` (API.md: with the request id) that says nothing a debugger
    would."""
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), what
    assert response.json()["request_id"] == response.headers["x-request-id"], what
    assert not DEBUG_TEXT.search(response.text), f"{what}: {response.text}"


@dataclass
class Tenant:
    """An organization with one of everything, owned by ``owner``."""

    owner: dict[str, str]
    values: dict[str, str]
    # ids for calls that must not consume the shared resources (deleted, or made busy)
    spare: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def path(self, method: str, template: str) -> str:
        return template.format(**(self.values | self.spare.get((method, template), {})))


async def post_ok(client: Client, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (201, 202), f"{path}: {response.text}"
    return response.json()


async def tenant(client: Client, data_root: Path) -> Tenant:
    """Ada's organization: member bob, a key, data sources, pipelines and a queued run;
    eve and fay registered but not members (for the calls that add members)."""
    owner, _ = await register(client, "ada@x.io")
    org = await create_org(client, owner)
    _, bob = await add_member(client, owner, org, "bob@x.io", "member")
    for email in ("eve@x.io", "fay@x.io"):
        await register(client, email)
    (data_root / org / "shared").mkdir(parents=True)
    sources = f"/v1/orgs/{org}/data-sources"
    files = {"kind": "file", "config": {"path": "shared", "format": "csv"}}
    source = (await post_ok(client, sources, files | {"name": "files"}, owner))["id"]
    unused_source = (await post_ok(client, sources, files | {"name": "unused"}, owner))["id"]
    pipeline_body = filled(BODIES[("POST", ORG + "/pipelines")], {"data_source_id": source})
    pipelines = [
        (await post_ok(client, f"/v1/orgs/{org}/pipelines", pipeline_body | {"name": n}, owner))[
            "id"
        ]
        for n in ("busy", "idle", "doomed")
    ]
    run = await post_ok(client, f"/v1/orgs/{org}/pipelines/{pipelines[0]}/runs", {}, owner)
    values = {
        "org_id": org,
        "user_id": bob,
        "key_id": (await create_key(client, owner, org, "viewer"))["id"],
        "data_source_id": source,
        "pipeline_id": pipelines[0],
        "run_id": run["id"],
    }
    spare = {
        ("DELETE", SOURCE): {"data_source_id": unused_source},  # in use: 409 otherwise
        ("POST", PIPELINE + "/runs"): {"pipeline_id": pipelines[1]},  # busy: 409 otherwise
        ("DELETE", PIPELINE): {"pipeline_id": pipelines[2]},
    }
    return Tenant(owner, values, spare)


async def caller_of(client: Client, org: Tenant, role: str, kind: str) -> dict[str, str]:
    """Auth headers of a new user of ``role`` in the organization, or of a new API key."""
    if kind == "user":
        headers, _ = await add_member(client, org.owner, org.values["org_id"], f"{role}@x.io", role)
        return headers
    key = await create_key(client, org.owner, org.values["org_id"], role)
    headers = bearer(key["key"])
    # a key records its first use; made now, the refused calls below have nothing to write
    assert (await client.get("/v1/orgs", headers=headers)).status_code == 200
    return headers


def call_order(call: tuple[str, str, Any, str]) -> tuple[int, int]:
    """Reads, then writes, then deletions, the organization's own last: allowed calls must
    not take away what later calls need."""
    method, template, _, _ = call
    return ({"GET": 0, "POST": 1, "PATCH": 2, "DELETE": 3}[method], template == ORG)


def matrix_calls(client: Client) -> list[tuple[str, str, Any, str]]:
    """(method, template, body, weakest role) of every organization route, plus GRANTS."""
    calls = []
    for method, template in organization_routes(client):
        assert (method, template) in WEAKEST_ROLE, f"{method} {template}: which roles may?"
        body = VALID_BODIES.get((method, template))
        calls.append((method, template, body, WEAKEST_ROLE[(method, template)]))
    calls += GRANTS
    return sorted(calls, key=call_order)


@pytest.mark.parametrize("kind", ["user", "key"])
@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_do_what_api_md_grants_and_nothing_more(
    client: Client, database_url: str, tmp_path: Path, role: str, kind: str
) -> None:
    """Every organization route: 2xx for a role at least as strong as API.md requires,
    else a 403 problem that leaves the database as it was."""
    org = await tenant(client, tmp_path / "data")
    caller = await caller_of(client, org, role, kind)
    refused_any = False
    for method, template, body, weakest in matrix_calls(client):
        path = org.path(method, template)
        what = f"{role} {kind}: {method} {template} {body}"
        before = snapshot(database_url)
        response = await client.request(method, path, json=filled(body, org.values), headers=caller)
        if RANK[role] >= RANK[weakest]:
            assert 200 <= response.status_code < 300, f"{what}: {response.text}"
        else:
            refused_any = True
            assert_refused(response, 403, what)
            assert snapshot(database_url) == before, f"{what} changed the database"
    assert refused_any == (role != "owner")


# --- API3: object property level -------------------------------------------------------

# Names of what API.md keeps from clients ("stored only as hashes", "stored encrypted …
# never returned") and of internal bookkeeping; ``secret_fields_set`` is API.md's own name.
HIDDEN_NAME = re.compile(
    r"hash|passw|secret(?!_fields_set$)|cipher|nonce|key_version|salt|encrypt|"
    r"reference|trace_?parent|epoch|lease|fingerprint|scope",
    re.IGNORECASE,
)
PG_PASSWORD = "pg-Secret-Value-4242"  # a plaintext the tests look for


def names_in(value: Any) -> Iterator[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from names_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from names_in(item)


# Columns the migrations describe as hashes, ciphertexts or hashed bookkeeping keys.
SECRET_COLUMNS = {
    "users": ["password_hash"],
    "access_tokens": ["token_hash"],
    "api_keys": ["secret_hash"],
    "secrets": ["nonce", "ciphertext"],
    "login_attempts": ["key"],
    "known_clients": ["key"],
    "idempotency_keys": ["scope", "fingerprint"],
    "data_sources": ["secret_references"],
}


def stored_secrets(database_url: str) -> set[str]:
    """Each value in SECRET_COLUMNS, in the spellings a response could carry it in."""
    spellings: set[str] = set()
    with psycopg.connect(database_url) as connection:
        for table, columns in SECRET_COLUMNS.items():
            for column in columns:
                query = sql.SQL("SELECT {} FROM {}").format(
                    sql.Identifier(column), sql.Identifier(table)
                )
                rows = connection.execute(query).fetchall()
                for (value,) in rows:
                    if isinstance(value, bytes):
                        spellings |= {
                            value.hex(),
                            base64.b64encode(value).decode().rstrip("="),
                            base64.urlsafe_b64encode(value).decode().rstrip("="),
                        }
                    elif isinstance(value, dict):
                        spellings |= {str(v) for v in value.values()}
                    elif value is not None:
                        spellings.add(str(value))
    return {s for s in spellings if len(s) >= 12}  # short values would match by chance


async def every_get_response(client: Client, org: Tenant) -> list[Response]:
    """Every GET route, the organization's and the caller's own, read by its owner."""
    templates = [t for m, t in organization_routes(client) if m == "GET"]
    paths = ["/v1/orgs", "/v1/users/me"] + [org.path("GET", t) for t in templates]
    return [await client.get(path, headers=org.owner) for path in paths]


async def test_no_response_carries_a_hash_a_secret_or_an_internal_field(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """Walking real responses of every route: no hidden field name, no stored hash or
    ciphertext, no password, whatever the route (API.md: secrets are "never returned")."""
    org = await tenant(client, tmp_path / "data")
    sources = f"/v1/orgs/{org.values['org_id']}/data-sources"
    config = {"host": "db.example.com", "database": "d", "user": "u", "password": PG_PASSWORD}
    seen = [
        await client.post(
            sources, json={"name": "pg", "kind": "postgres", "config": config}, headers=org.owner
        ),
        await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD}),
        await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": "wrong" * 3}),
        await client.patch(
            "/v1/users/me",
            json={"password": PASSWORD + "!", "current_password": PASSWORD},
            headers=org.owner,
        ),
    ]
    assert [r.status_code for r in seen] == [201, 200, 401, 200], [r.text for r in seen]
    # the owner tours the whole API, writes included (the matrix's calls, as owner)
    seen += await every_get_response(client, org)
    for method, template, body, _ in matrix_calls(client):
        seen.append(
            await client.request(
                method, org.path(method, template), json=filled(body, org.values), headers=org.owner
            )
        )
    secrets = stored_secrets(database_url) | {PASSWORD, PG_PASSWORD}
    assert len(secrets) > 10  # hashes of users, tokens, keys and the sealed password
    for response in seen:
        what = f"{response.request.method} {response.request.url.path}"
        assert response.status_code < 500, f"{what}: {response.text}"
        if response.content:
            hidden = [n for n in names_in(response.json()) if HIDDEN_NAME.search(n)]
            assert not hidden, f"{what} answers {hidden}"
        leaked = [s for s in secrets if s in response.text]
        assert not leaked, f"{what} answers a stored secret"


def response_schemas(document: dict[str, Any]) -> set[str]:
    """The component schemas any response of the document uses, directly or nested."""
    found: set[str] = set()
    pending = [
        response
        for operations in document["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
    ]
    while pending:
        references = re.findall(r'"\$ref":\s*"#/components/schemas/([^"]+)"', json.dumps(pending))
        pending = [document["components"]["schemas"][name] for name in set(references) - found]
        found |= set(references)
    return found


async def test_no_response_schema_names_a_hidden_field(client: Client) -> None:
    """The OpenAPI document's response schemas: a field for a hash or a secret would be a
    promise to send one, whether or not today's responses fill it."""
    document = (await client.get("/schema/openapi.json")).json()
    schemas = response_schemas(document)
    # the walk reaches what API.md has responses carry: users, keys and data sources
    assert {"UserBody", "CreatedApiKeyBody", "DataSourceBody"} <= schemas
    for name in schemas:
        properties = document["components"]["schemas"][name].get("properties", {})
        hidden = [p for p in properties if HIDDEN_NAME.search(p)]
        assert not hidden, f"{name} has {hidden}"


# API.md's response fields that its request bodies do not name: the server sets them.
# (route, [read-only fields with a plausible value]); "{name}" values are the tenant's ids.
A_TIME = "2020-01-01T00:00:00Z"
AN_ID = "01900000-0000-7000-8000-000000000000"
READ_ONLY: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/auth/register", {"id": AN_ID, "created_at": A_TIME, "memberships": []}),
    ("POST", "/v1/auth/register", {"access_token": "tdt_x", "expires_at": A_TIME}),
    ("PATCH", "/v1/users/me", {"id": AN_ID, "email": "mallory@x.io", "created_at": A_TIME}),
    ("PATCH", "/v1/users/me", {"memberships": [{"organization_id": "{org_id}", "role": "owner"}]}),
    ("POST", "/v1/orgs", {"id": AN_ID, "role": "viewer", "created_at": A_TIME}),
    ("PATCH", ORG, {"id": AN_ID, "role": "viewer", "created_at": A_TIME}),
    ("POST", ORG + "/members", {"user_id": AN_ID, "joined_at": A_TIME, "name": "Z"}),
    ("PATCH", MEMBER, {"user_id": AN_ID, "email": "mallory@x.io", "joined_at": A_TIME}),
    ("POST", ORG + "/api-keys", {"id": AN_ID, "prefix": "tdk_x", "key": "tdk_chosen"}),
    ("POST", ORG + "/api-keys", {"last_used_at": A_TIME, "created_at": A_TIME}),
    ("POST", ORG + "/data-sources", {"id": AN_ID, "created_at": A_TIME}),
    ("POST", ORG + "/data-sources", {"secret_fields_set": ["password"], "updated_at": A_TIME}),
    ("PATCH", SOURCE, {"kind": "postgres"}),
    ("PATCH", SOURCE, {"id": AN_ID, "secret_fields_set": [], "created_at": A_TIME}),
    ("POST", ORG + "/pipelines", {"id": AN_ID, "state": {"a": {"cursor": 9}}}),
    ("PATCH", PIPELINE, {"state": {"a": {"cursor": 9}}}),
    ("PATCH", PIPELINE, {"id": AN_ID, "organization_id": AN_ID, "created_at": A_TIME}),
]


# Actions API.md gives no body: what a client sends there is unknown, hence 400 by API.md's
# rule, and must at least not be applied (see the test after the parametrized one).
BODILESS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", PIPELINE + "/runs", {"status": "succeeded", "trigger": "schedule", "attempt": 9}),
    ("POST", RUN + "/cancel", {"status": "succeeded", "finished_at": A_TIME}),
    ("POST", SOURCE + "/check", {"ok": True}),
]


def body_for(method: str, template: str) -> dict[str, Any]:
    """A valid body for the route, so that the extra field is the only fault."""
    own = {
        ("POST", "/v1/auth/register"): {
            "email": "zed@x.io",
            "password": PASSWORD,
            "name": "Zed",
        },
        ("PATCH", "/v1/users/me"): {"name": "Ada"},
        ("POST", "/v1/orgs"): {"name": "Other"},
        ("POST", ORG + "/members"): {"email": "fay@x.io", "role": "member"},
        ("PATCH", MEMBER): {"role": "viewer"},
        ("POST", ORG + "/api-keys"): {"name": "robot", "role": "viewer"},
    }
    body = own.get((method, template), VALID_BODIES.get((method, template)))
    assert body is not None, f"{method} {template}: no valid body"
    return dict(body)


@pytest.mark.parametrize(
    ("method", "template", "extra"),
    [
        *[pytest.param(*case, id=f"{case[0]} {case[1]} {','.join(case[2])}") for case in READ_ONLY],
        *[pytest.param(*case, id=f"{case[0]} {case[1]}") for case in BODILESS],
    ],
)
async def test_read_only_fields_in_a_body_are_400_and_change_nothing(
    client: Client,
    database_url: str,
    tmp_path: Path,
    method: str,
    template: str,
    extra: dict[str, Any],
) -> None:
    """API.md: "Unknown JSON fields in a request body are rejected (400)"; a response field
    is no request field, so sending one is refused rather than applied or ignored."""
    org = await tenant(client, tmp_path / "data")
    body = filled(body_for(method, template) | extra, org.values)
    path = org.path(method, template)
    before = snapshot(database_url)
    response = await client.request(method, path, json=body, headers=org.owner)
    assert_refused(response, 400, f"{method} {template} {extra}")
    fields = {e["field"] for e in response.json().get("errors", [])}
    assert fields & {f"/{name}" for name in extra} or fields & set(extra), response.text
    assert snapshot(database_url) == before
    # the same call without the extra fields succeeds: the fields are what was refused
    plain = filled(body_for(method, template), org.values)
    accepted = await client.request(method, path, json=plain, headers=org.owner)
    assert 200 <= accepted.status_code < 300, accepted.text


# --- API4: unrestricted resource consumption --------------------------------------------

# API.md's lists ("Pagination of every list: ?limit= (1..200, default 50)"); /v1/orgs has
# its own test in test_organizations. Streams are `{streams: [...]}`, not a page.
PAGED = {
    ORG + "/members",
    ORG + "/api-keys",
    ORG + "/data-sources",
    ORG + "/pipelines",
    PIPELINE + "/runs",
    ORG + "/runs",
}
NOT_PAGED = {SOURCE + "/streams"}


async def test_every_list_refuses_a_page_over_200(client: Client, tmp_path: Path) -> None:
    """limit=201 (and 0) on each list: a 400 naming ``limit``, not a bigger page; 200 is
    served. A new list route must be put in PAGED or NOT_PAGED."""
    org = await tenant(client, tmp_path / "data")
    lists = {t for m, t in organization_routes(client) if m == "GET" and not t.endswith("}")}
    assert lists == PAGED | NOT_PAGED
    for template in sorted(PAGED):
        path = org.path("GET", template)
        for limit in (201, 10_000, 0):
            response = await client.get(path, params={"limit": limit}, headers=org.owner)
            assert_refused(response, 400, f"{template}?limit={limit}")
            assert [e["field"] for e in response.json()["errors"]] == ["limit"]
        largest = await client.get(path, params={"limit": 200}, headers=org.owner)
        assert largest.status_code == 200, largest.text


def json_routes(client: Client) -> list[tuple[str, str]]:
    """Every POST and PATCH route, those outside organizations included."""
    outside = [
        ("POST", "/v1/auth/register"),
        ("POST", "/v1/auth/token"),
        ("POST", "/v1/auth/logout"),
        ("PATCH", "/v1/users/me"),
        ("POST", "/v1/orgs"),
    ]
    inside = [(m, t) for m, t in organization_routes(client) if m in ("POST", "PATCH")]
    return outside + inside


async def test_every_route_refuses_a_body_over_the_limit_and_changes_nothing(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """API.md: "413 body too large". test_problems checks the limit on a probe route; here
    every real route that takes a body, with valid JSON just over the configured limit."""
    org = await tenant(client, tmp_path / "data")
    padding = MAX_BODY  # a name this long is over the limit with any other field
    before = snapshot(database_url)
    bodyless = {("POST", "/v1/auth/logout")} | {(m, t) for m, t, _ in BODILESS}
    for method, template in json_routes(client):
        if (method, template) in bodyless:
            continue  # API.md gives them no body: they do not read one (logout answers 204)
        body = json.dumps({"name": "x" * padding}).encode()
        response = await client.request(
            method,
            org.path(method, template),
            content=body,
            headers=org.owner | {"content-type": "application/json"},
        )
        assert_refused(response, 413, f"{method} {template}")
    assert snapshot(database_url) == before


# --- API2 / API8: authentication on every route, and what error answers reveal ----------


async def test_every_route_needs_a_live_token(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """No token, a made-up one, or one revoked by logout: 401 with `WWW-Authenticate:
    Bearer` (API.md) on every route but sign-up and sign-in, and nothing written."""
    org = await tenant(client, tmp_path / "data")
    revoked, _ = await register(client, "gone@x.io")
    assert (await client.post("/v1/auth/logout", headers=revoked)).status_code == 204
    signing_in = {("POST", "/v1/auth/register"), ("POST", "/v1/auth/token")}
    routes = [("GET", "/v1/users/me"), ("GET", "/v1/orgs")]
    routes += [route for route in json_routes(client) if route not in signing_in]
    routes += [(m, t) for m, t in organization_routes(client) if m in ("GET", "DELETE")]
    before = snapshot(database_url)
    for method, template in routes:
        body = VALID_BODIES.get((method, template))
        for headers in ({}, bearer("tdt_" + "A" * 43), revoked):
            response = await client.request(
                method,
                org.path(method, template),
                json=filled(body, org.values),
                headers=headers,
            )
            assert_refused(response, 401, f"{method} {template} with {headers}")
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(database_url) == before


async def test_a_sign_in_is_never_cached(client: Client) -> None:
    """The token answer says `Cache-Control: no-store` (RFC 6749 §5.1); test_auth checks
    sign-up's."""
    await register(client, "ada@x.io")
    token = await client.post("/v1/auth/token", json={"email": "ada@x.io", "password": PASSWORD})
    assert token.status_code == 200
    assert token.headers.get("cache-control") == "no-store"


async def test_a_new_api_keys_answer_is_never_cached(client: Client) -> None:
    """API.md: the key is "shown this once only": no shared or private cache may keep it."""
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    response = await client.post(
        f"/v1/orgs/{org}/api-keys", json={"name": "robot", "role": "viewer"}, headers=headers
    )
    assert response.status_code == 201
    assert response.headers.get("cache-control") == "no-store"
