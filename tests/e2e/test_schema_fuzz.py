"""Schema fuzzing: schemathesis drives the live app from its own OpenAPI document.

Every documented operation is called with generated requests (valid and invalid), as a
signed-in user and as an organization API key, and every response is held to every
check schemathesis has: no 5xx, only documented status codes, content types and
headers, bodies that match their schema, invalid input rejected, valid input accepted,
authentication not ignored. A failure is a difference between the document and the
server; each is mended where the contract (API.md) says the wrong one is.

Every phase runs (examples, coverage, fuzzing, and stateful sequences over the links
schemathesis infers from the responses: create -> get -> patch -> delete). Path
parameters name the caller's real organization and resources, so that cases get past
authorization into the handlers; a DELETE gets a resource made for that case, and the
owner signs out and changes its account with another account's session, so that the
caller's tenant survives the run. A valid-looking request may still break a rule no JSON
Schema can state (``SEMANTIC_RULES``: a cursor's digest, an expiry in the past, a data
source of another organization); its 400 is accepted when it names only such fields.

The app runs in-process (schemathesis' ASGI transport) on a fresh migrated database.
Connectors reach loopback only: every host resolves to 127.0.0.1 and any other address
is refused, so fuzzed hosts never leave the machine.

Tiers: by default (the normal suite) each operation gets ``FAST_EXAMPLES`` examples with a
fixed seed (about 6,800 cases for both callers, about a minute). The slow tier is the same
test with more: ``THEDATA_FUZZ_EXAMPLES=N`` sets N per operation, and ``THEDATA_HEAVY=1``
means ``HEAVY_EXAMPLES`` unless N is given, e.g.
``./dev heavy tests/e2e/test_schema_fuzz.py`` or
``THEDATA_FUZZ_EXAMPLES=300 ./dev test tests/e2e/test_schema_fuzz.py``.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from dependency_injector import providers
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.generation.case import Case
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.python import asgi

from tests.conftest import make_settings
from tests.e2e.api import PASSWORD
from tests.e2e.conftest import CHEAP_HASHING
from thedata.adapters.connectors.factory import DefaultConnectorFactory
from thedata.adapters.connectors.network import NetworkPolicy
from thedata.entrypoints.container import build_container
from thedata.entrypoints.http import create_app

pytestmark = pytest.mark.postgres

FAST_EXAMPLES = 20
SEED = 14  # a fixed seed: the fast tier runs the same cases each time; the slow tier explores
HEAVY_EXAMPLES = 300
LOOPBACK = "127.0.0.1"


def examples_per_operation() -> int:
    """``THEDATA_FUZZ_EXAMPLES``, else the heavy or the fast tier's count."""
    configured = os.environ.get("THEDATA_FUZZ_EXAMPLES")
    if configured:
        return int(configured)
    return HEAVY_EXAMPLES if os.environ.get("THEDATA_HEAVY") == "1" else FAST_EXAMPLES


class LoopbackOnly(NetworkPolicy):
    """The network policy of these tests: loopback is the only address there is."""

    def judge(self, address: str) -> str | None:
        return None if address in (LOOPBACK, "::1") else "only loopback in the fuzz tests"


async def _resolve_to_loopback(host: str, port: int) -> Sequence[str]:
    return [LOOPBACK]  # no DNS query for a fuzzed name ever leaves the machine


@pytest.fixture
def fuzz_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """The whole app on a fresh database, its lifespan run by schemathesis' ASGI transport
    (whose pytest plugin ends it after each test, hence an app per test)."""
    data_root = tmp_path / "data"
    settings_ = make_settings(database_url=database_url, data_root=str(data_root), **CHEAP_HASHING)
    container = build_container(settings_)
    container.connectors.override(
        providers.Singleton(
            DefaultConnectorFactory,
            data_root=data_root,
            policy=LoopbackOnly(allow_private=True, resolver=_resolve_to_loopback),
            timeout=settings_.connector_timeout,
            control_database=database_url,
        )
    )
    app = create_app(container)
    app.state.data_root = data_root
    yield app
    asgi.shutdown_lifespans()


@dataclass
class Tenant:
    """What a caller owns: an organization and one of each resource in it."""

    headers: dict[str, str]
    """The caller's: the owner's, or the API key's."""
    owner: dict[str, str]
    """The owner's, to make what a destructive case consumes."""
    org_id: str
    data_source_id: str
    pipeline_id: str
    run_id: str
    user_id: str
    """Another member of the organization (not the owner)."""
    key_id: str
    """Another API key of the organization (not the caller's)."""
    own_ids: frozenset[str]
    """The caller's own user and key ids: a case never demotes, removes or revokes them."""
    spare: dict[str, str] | None
    """Another account's session, for the calls that end one (the owner's only)."""

    def path_parameter(self, name: str) -> str:
        """The value of the path parameter ``name``: the tenant's resource."""
        return str(getattr(self, name))


@dataclass
class World:
    """Makes accounts and resources through the API itself, for cases to point at."""

    http: Any
    data_root: Path
    made: int = field(default=0)

    def _unique(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}-{self.made}-{uuid.uuid4().hex[:6]}"

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=headers)
        assert response.status_code in (201, 202), (path, response.text)
        made: dict[str, Any] = response.json()
        return made

    def account(self) -> tuple[dict[str, str], str, str]:
        """A new account: its headers, user id and email."""
        email = self._unique("fuzz") + "@example.com"
        body = self._post(
            "/v1/auth/register", {"email": email, "password": PASSWORD, "name": "Fuzz"}, {}
        )
        return {"Authorization": f"Bearer {body['access_token']}"}, body["user"]["id"], email

    def organization(self, headers: dict[str, str]) -> str:
        return str(self._post("/v1/orgs", {"name": self._unique("org")}, headers)["id"])

    def member(self, headers: dict[str, str], org: str) -> str:
        _, user_id, email = self.account()
        self._post(f"/v1/orgs/{org}/members", {"email": email, "role": "member"}, headers)
        return user_id

    def key(self, headers: dict[str, str], org: str, role: str) -> tuple[str, str]:
        """A new API key of ``org``: its id and secret."""
        body = self._post(
            f"/v1/orgs/{org}/api-keys", {"name": self._unique("key"), "role": role}, headers
        )
        return str(body["id"]), str(body["key"])

    def data_source(self, headers: dict[str, str], org: str) -> str:
        name = self._unique("folder")
        (self.data_root / org / name).mkdir(parents=True, exist_ok=True)
        body = {"name": name, "kind": "file", "config": {"path": name, "format": "csv"}}
        return str(self._post(f"/v1/orgs/{org}/data-sources", body, headers)["id"])

    def pipeline(self, headers: dict[str, str], org: str) -> str:
        source, destination = self.data_source(headers, org), self.data_source(headers, org)
        stream = {"name": "items.csv", "destination": "items", "mode": "full_refresh"}
        body = {
            "name": self._unique("pipeline"),
            "source_id": source,
            "destination_id": destination,
            "streams": [stream],
        }
        return str(self._post(f"/v1/orgs/{org}/pipelines", body, headers)["id"])

    def run(self, headers: dict[str, str], org: str, pipeline: str) -> str:
        return str(self._post(f"/v1/orgs/{org}/pipelines/{pipeline}/runs", {}, headers)["id"])

    def tenant(self, as_key: bool) -> Tenant:
        """An owner's organization with one of everything; called as the owner or a key."""
        owner, owner_id, _ = self.account()
        org = self.organization(owner)
        pipeline = self.pipeline(owner, org)
        caller_key_id, secret = self.key(owner, org, "admin")
        key_id, _ = self.key(owner, org, "viewer")
        headers = {"Authorization": f"Bearer {secret}"} if as_key else owner
        return Tenant(
            headers=headers,
            owner=owner,
            own_ids=frozenset({owner_id, caller_key_id}),
            spare=None if as_key else self.account()[0],
            org_id=org,
            data_source_id=self.data_source(owner, org),
            pipeline_id=pipeline,
            run_id=self.run(owner, org, pipeline),
            user_id=self.member(owner, org),
            key_id=key_id,
        )

    def replacement(self, tenant: Tenant, path: str) -> tuple[str, str] | None:
        """A fresh resource for a DELETE of ``path`` to consume instead of the tenant's own:
        the parameter's name and the resource's id."""
        owner, org = tenant.owner, tenant.org_id
        last = path.rsplit("/", 1)[-1].strip("{}")
        if last == "data_source_id":
            return last, self.data_source(owner, org)
        if last == "pipeline_id":
            return last, self.pipeline(owner, org)
        if last == "user_id":
            return last, self.member(owner, org)
        if last == "key_id":
            return last, self.key(owner, org, "viewer")[0]
        if last == "org_id" and tenant.headers is owner:
            return last, self.organization(owner)  # an API key may not delete it: it gets a 403
        return None


@pytest.fixture
def world(fuzz_app: Any) -> Iterator[World]:
    """Makes accounts and resources through the app, on the transport the fuzzing uses."""
    with asgi.get_client(fuzz_app) as http:
        yield World(http, fuzz_app.state.data_root)


def test_every_operation_conforms_as_a_user(fuzz_app: Any, world: World) -> None:
    """Every check passes on every operation, called by a signed-in owner."""
    assert_conforms(fuzz_app, world, world.tenant(as_key=False))


def test_every_operation_conforms_as_an_api_key(fuzz_app: Any, world: World) -> None:
    """Every check passes on every operation, called with an admin API key."""
    assert_conforms(fuzz_app, world, world.tenant(as_key=True))


PATH_PARAMETERS = ("org_id", "user_id", "key_id", "data_source_id", "pipeline_id", "run_id")

# Calls that end the session they are made with (or may: a password change); the owner
# makes them with another account's session (the first sign-out ends it: 401s after).
SPEND_THE_SESSION = ("/v1/auth/logout", "/v1/users/me")


def fuzz_config(caller: Tenant) -> SchemathesisConfig:
    """Every phase and every check, the caller's credentials and its resources as the path's
    parameters (fixed values are never mutated into invalid ones by the generator)."""
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": caller.headers,
            "workers": 1,
            "generation": {"max-examples": examples_per_operation(), "mode": "all"},
            "checks": {"enabled": True},
            "phases": {"stateful": {"max-steps": examples_per_operation() * 4}},
            "parameters": {f"path.{name}": caller.path_parameter(name) for name in PATH_PARAMETERS},
            "operations": [
                {"include-path": path, "headers": caller.spare}
                for path in SPEND_THE_SESSION
                if caller.spare
            ],
        }
    )


@contextmanager
def keeping_the_tenant(world: World, caller: Tenant) -> Iterator[None]:
    """Point destructive cases at resources of their own while the engine runs.

    Schemathesis calls ``before_call`` hooks of the global registry only.
    """

    def before_call(context: Any, case: Case[Any], kwargs: dict[str, Any]) -> None:
        parameters = dict(case.path_parameters or {})
        for name, value in parameters.items():
            if value in caller.own_ids:  # as a link may name them
                parameters[name] = caller.path_parameter(name)
        if case.operation.method.upper() == "DELETE":
            fresh = world.replacement(caller, case.operation.path)
            if fresh is not None and parameters[fresh[0]] == caller.path_parameter(fresh[0]):
                parameters[fresh[0]] = fresh[1]
        if parameters:
            case.path_parameters = parameters

    schemathesis.hook(before_call)
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


# Rules no JSON Schema can state: a request that keeps to the document may still break one,
# and its 400 names the field. (operation path pattern, field pointer pattern): why.
SEMANTIC_RULES: dict[tuple[str, str], str] = {
    (r"", r"cursor"): "a cursor is one the API issued: a digest catches any other",
    (r"/api-keys$", r"/expires_at"): "an expiry lies in the future",
    (r"/data-sources", r"/config(/.*)?"): "the connector's checks: resolvable hosts, existing "
    "folders under the data root, no system schema, byte lengths, the kind's own fields",
    (r"/pipelines", r"/(source|destination)_id"): "data sources of the organization",
    (r"/pipelines", r"/streams(/\d+/(name|destination))?"): "unique names and "
    "destinations, none reserved, none read in the same data source",
    (r"/pipelines", r"/schedule(/cron)?"): "a cron expression that parses",
    (r"^/v1/users/me$", r"/current_password"): "the account's current password",
}


def breaks_only_semantic_rules(context: Any, failure: Any, case: Case[Any], response: Any) -> bool:
    """``filter_failure``: keep a failure unless it is a valid-looking request's 400 whose
    every field is under one of ``SEMANTIC_RULES``."""
    if failure.title != "Schema-valid request rejected" or response.status_code != 400:
        return True
    try:
        fields = [error["field"] for error in response.json().get("errors") or []]
    except ValueError:
        return True
    path = case.operation.path
    rules = [field for where, field in SEMANTIC_RULES if re.search(where, path)]
    explained = all(any(re.fullmatch(rule, name, re.DOTALL) for rule in rules) for name in fields)
    return not (fields and explained)


def assert_conforms(app: Any, world: World, caller: Tenant) -> None:
    """Run every phase as ``caller``; no check may fail and no error may occur."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app, config=fuzz_config(caller))
    schema.hook("filter_failure")(breaks_only_semantic_rules)
    with keeping_the_tenant(world, caller):
        failures, errors, cases = run_engine(schema)
    # the count, for the record of a run with -s (e.g. ./dev heavy)
    sys.stdout.write(f"\n{cases} cases as the {'key' if caller.spare is None else 'user'}\n")
    assert not errors, "\n\n".join(errors)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)


def run_engine(schema: Any) -> tuple[list[str], list[str], int]:
    """Run every phase: each failed check described, each error, and how many cases ran."""
    failures: list[str] = []
    errors: list[str] = []
    cases = 0
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted) and event.payload is not None:
            links = event.payload.transitions_total
            sys.stdout.write(f"\nstateful phase: {links} links between operations\n")
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            cases += len(event.recorder.cases)
            failures.extend(describe_failures(event.recorder))
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    return failures, errors, cases


def describe_failures(recorder: Any) -> Iterator[str]:
    """Each distinct failure of a scenario: the check, its message and the request."""
    seen: set[str] = set()
    for case_id, checks in recorder.checks.items():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            failure = info.failure
            text = f"{recorder.label} [{check.name}] {failure.title}: {failure.message}"
            if text not in seen:
                seen.add(text)
                yield f"{text}\n    {info.code_sample}\n    -> {answer_of(recorder, case_id)}"


def answer_of(recorder: Any, case_id: str) -> str:
    """The status and the start of the body the app answered ``case_id`` with."""
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    if response is None:
        return "no answer"
    return f"{response.status_code} {response.content[:600]!r}"
