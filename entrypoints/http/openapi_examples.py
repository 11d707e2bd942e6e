"""The examples of the OpenAPI document, all made here: one problem detail per status (shared
through ``components/examples``), and each operation's request bodies and success answers.

Bodies are the API's own structs, encoded as the API encodes them, so an example has the
fields and types an answer has; the unit tests hold each one to its schema in the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, ClassVar, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import Example, Operation

from thedata.entrypoints.http.health import HealthBody, HealthCheckEntry
from thedata.entrypoints.http.openapi_headers import declare_headers
from thedata.entrypoints.http.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldProblem,
    Problem,
    problem_of,
)
from thedata.entrypoints.http.request_context import MIN_BODY_RATE
from thedata.entrypoints.http.schemas.api_keys import (
    ApiKeyBody,
    ApiKeyPage,
    CreateApiKeyRequest,
    CreatedApiKeyBody,
    CreatorBody,
)
from thedata.entrypoints.http.schemas.auth import (
    MeBody,
    MembershipBody,
    RegisterRequest,
    RegistrationBody,
    TokenBody,
    TokenRequest,
    UpdateMeRequest,
    UserBody,
)
from thedata.entrypoints.http.schemas.data_sources import (
    CheckBody,
    DataSourceBody,
    DataSourcePage,
    FieldBody,
    StreamBody,
    StreamsBody,
    UpdateDataSourceRequest,
)
from thedata.entrypoints.http.schemas.data_sources import HealthBody as CircuitBody
from thedata.entrypoints.http.schemas.organizations import (
    AddMemberRequest,
    ChangeRoleRequest,
    CreateOrganizationRequest,
    MemberBody,
    MemberPage,
    OrganizationBody,
    OrganizationPage,
    UpdateOrganizationRequest,
)
from thedata.entrypoints.http.schemas.pipelines import (
    CreatePipelineRequest,
    PipelineBody,
    PipelinePage,
    ScheduleOut,
    ScheduleSpec,
    StreamOut,
    StreamSpec,
    UpdatePipelineRequest,
)
from thedata.entrypoints.http.schemas.runs import (
    AttemptOut,
    RunBody,
    RunErrorOut,
    RunPage,
    RunStatsOut,
    StreamStatsOut,
)

# --- the things the examples talk about -------------------------------------------------

ORG_ID = UUID("0190c7a2-5a7b-7cc1-9b1e-4c2f3a8d9e01")
USER_ID = UUID("0190c7a1-f3d2-7b4e-8a61-2d5c9e0b7f13")
MEMBER_ID = UUID("0190c7a3-0c44-7d1a-9f20-6b3e8c1d2a47")
KEY_ID = UUID("0190c7a4-61b0-7e3c-b7d5-93a0f4c1e288")
SOURCE_ID = UUID("0190c7a5-2e19-7a40-8c6b-5d7e1f203b94")
DESTINATION_ID = UUID("0190c7a5-7f8a-7b21-a1d3-c4e5f6a7b8c9")
PIPELINE_ID = UUID("0190c7a6-14cd-7f02-9e8b-a1b2c3d4e5f6")
RUN_ID = UUID("0190c7b0-9d3e-7c15-b2a4-0f1e2d3c4b5a")
REQUEST_ID = "5b87f67d-aedc-4b8a-8d85-b520d41afda7"

CREATED = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
QUEUED = datetime(2025, 1, 16, 3, 0, tzinfo=UTC)
ACCESS_TOKEN = "tdt_kD3bApZBxHEdE1tyfZskwKiWYaupoCZbJMabCDw1xOV11X0Iu"  # noqa: S105 - an example
KEY_PREFIX = "tdk_le2eP81Dzio"
NEXT_CURSOR = "eyJrIjoiMDE5MGM3YTYtMTRjZC03ZjAyIn0.Zb3qkw"
PASSWORD = "correct horse battery staple"  # noqa: S105 - an example
NEW_PASSWORD = "a longer and newer passphrase"  # noqa: S105 - an example

ORGANIZATION_PATH = f"/v1/orgs/{ORG_ID}"


def _value(body: Any) -> Any:
    """What the API sends for ``body``: its structs' fields, UUIDs and RFC 3339 times as text."""
    return msgspec.to_builtins(body)


def example(summary: str, body: Any, description: str | None = None) -> Example:
    """A named example of a body (a struct of the API, or JSON as Python values)."""
    return Example(summary=summary, description=description, value=_value(body))


def shown(document: Mapping[str, Example]) -> dict[str, Any]:
    """The ``examples`` of a media type, written here rather than by Litestar, which leaves
    out every ``null`` of a value (a page's ``"next_cursor": null`` is a required field)."""
    return {
        name: {
            key: value
            for key, value in (
                ("summary", sample.summary),
                ("description", sample.description),
                ("value", sample.value),
            )
            if key == "value" or value is not None
        }
        for name, sample in document.items()
    }


# --- problems: one per status, shared by every operation that may answer it --------------


def _problem(
    status: HTTPStatus,
    code: str | None,
    detail: str,
    instance: str,
    errors: list[FieldProblem] | None = None,
) -> Problem:
    """The problem ``problems.problem_response`` answers with, for a request to ``instance``."""
    return problem_of(status, detail, instance, REQUEST_ID, code=code, errors=errors)


_PROBLEMS: dict[HTTPStatus, tuple[str, Problem]] = {
    HTTPStatus.BAD_REQUEST: (
        "A field is invalid",
        _problem(
            HTTPStatus.BAD_REQUEST,
            "invalid_input",
            "the request is invalid",
            "/v1/orgs",
            [FieldProblem(field="/name", message="Expected `str` of length >= 1")],
        ),
    ),
    HTTPStatus.UNAUTHORIZED: (
        "The access token has expired",
        _problem(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            "the access token is invalid, expired or revoked",
            "/v1/users/me",
        ),
    ),
    HTTPStatus.FORBIDDEN: (
        "A viewer may not change pipelines",
        _problem(
            HTTPStatus.FORBIDDEN,
            "permission_denied",
            "the role 'viewer' may not create, edit or run data sources and pipelines",
            f"{ORGANIZATION_PATH}/pipelines",
        ),
    ),
    HTTPStatus.NOT_FOUND: (
        "No such organization, or not one of the caller's",
        _problem(
            HTTPStatus.NOT_FOUND,
            "organization_not_found",
            f"organization {ORG_ID} not found",
            ORGANIZATION_PATH,
        ),
    ),
    HTTPStatus.CONFLICT: (
        "The slug is taken",
        _problem(HTTPStatus.CONFLICT, "slug_taken", "the slug 'acme-data' is taken", "/v1/orgs"),
    ),
    HTTPStatus.REQUEST_TIMEOUT: (
        "The body stalled",
        _problem(
            HTTPStatus.REQUEST_TIMEOUT,
            "body_timeout",
            "the request body stopped arriving, or came slower than "
            f"{MIN_BODY_RATE} bytes a second",
            "/v1/orgs",
        ),
    ),
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: (
        "The body is too large",
        _problem(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this server accepts",
            "/v1/orgs",
        ),
    ),
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: (
        "The body is not JSON",
        _problem(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json), not text/plain",
            "/v1/orgs",
        ),
    ),
    HTTPStatus.TOO_MANY_REQUESTS: (
        "Too many failed sign-ins (see Retry-After)",
        _problem(
            HTTPStatus.TOO_MANY_REQUESTS,
            "too_many_login_attempts",
            "too many failed password attempts; try again in 60 s",
            "/v1/auth/token",
        ),
    ),
    HTTPStatus.SERVICE_UNAVAILABLE: (
        "The database is unavailable (see Retry-After)",
        _problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database did not answer in time",
            ORGANIZATION_PATH,
        ),
    ),
}


def problem_example_name(status: int) -> str:
    """The name of the status's problem under ``components/examples``."""
    return f"Problem{status}"


PROBLEM_EXAMPLES: dict[str, Example] = {
    problem_example_name(status): example(summary, problem)
    for status, (summary, problem) in _PROBLEMS.items()
}
"""Every problem example, for the document's ``components/examples``."""


# --- bodies ------------------------------------------------------------------------------

USER = UserBody(id=USER_ID, email="ada@example.com", name="Ada Lovelace", created_at=CREATED)
ME = MeBody(
    id=USER_ID,
    email=USER.email,
    name=USER.name,
    created_at=CREATED,
    memberships=[MembershipBody(organization_id=ORG_ID, role="owner")],
)
ORGANIZATION = OrganizationBody(
    id=ORG_ID,
    name="Acme Data",
    slug="acme-data",
    role="owner",
    created_at=CREATED,
    updated_at=CREATED,
)
MEMBER = MemberBody(
    user_id=MEMBER_ID,
    email="grace@example.com",
    name="Grace Hopper",
    role="member",
    joined_at=CREATED + timedelta(hours=2),
)
CREATOR = CreatorBody(user_id=USER_ID, email=USER.email, name=USER.name)
API_KEY = ApiKeyBody(
    id=KEY_ID,
    name="nightly loader",
    role="member",
    prefix=KEY_PREFIX,
    created_at=CREATED,
    last_used_at=QUEUED,
    expires_at=datetime(2026, 1, 15, tzinfo=UTC),
    created_by=CREATOR,
    status="active",
)
CREATED_KEY = CreatedApiKeyBody(
    **msgspec.structs.asdict(API_KEY) | {"last_used_at": None},
    key=f"{KEY_PREFIX}_Ia89gBVgb9HnIhqL4eKTMNyJJjUNX7FlZXZlqoG3k952MDtnE",
)
WAREHOUSE = DataSourceBody(
    id=SOURCE_ID,
    name="warehouse",
    kind="postgres",
    config={
        "host": "db.internal",
        "port": 5432,
        "database": "sales",
        "user": "reader",
        "schema": "public",
        "sslmode": "prefer",
    },
    secret_fields_set=["password"],
    health=CircuitBody(circuit="closed", last_check_at=QUEUED, last_error=None),
    created_at=CREATED,
    updated_at=CREATED,
)
EXPORTS = DataSourceBody(
    id=DESTINATION_ID,
    name="exports",
    kind="file",
    config={"path": "exports", "format": "csv"},
    secret_fields_set=[],
    health=CircuitBody(circuit="closed", last_check_at=None, last_error=None),
    created_at=CREATED,
    updated_at=CREATED,
)
ORDERS = StreamSpec(
    name="public.orders",
    destination="orders",
    mode="incremental",
    cursor_field="updated_at",
    primary_key=["id"],
)
PIPELINE = PipelineBody(
    id=PIPELINE_ID,
    name="nightly sales",
    source_id=SOURCE_ID,
    destination_id=DESTINATION_ID,
    streams=[StreamOut("public.orders", "orders", "incremental", "updated_at", ["id"])],
    schedule=ScheduleOut(cron="0 3 * * *"),
    enabled=True,
    state={
        "public.orders": {"epoch": 1736996398123, "cursor": "2025-01-16T02:59:58Z", "key": [1042]}
    },
    next_run_at=QUEUED + timedelta(days=1),
    created_at=CREATED,
    updated_at=CREATED,
)
_NO_ROWS = RunStatsOut(rows_read=0, rows_written=0, streams={})
QUEUED_RUN = RunBody(
    id=RUN_ID,
    pipeline_id=PIPELINE_ID,
    status="queued",
    trigger="manual",
    attempt=1,
    max_attempts=3,
    queued_at=QUEUED,
    started_at=None,
    finished_at=None,
    not_before=None,
    scheduled_for=None,
    cancel_requested=False,
    stats=_NO_ROWS,
    error=None,
    attempts=[],
)
_ROWS = RunStatsOut(
    rows_read=1042,
    rows_written=1042,
    streams={"public.orders": StreamStatsOut(rows_read=1042, rows_written=1042, estimate=1040)},
)
SUCCEEDED_RUN = msgspec.structs.replace(
    QUEUED_RUN,
    status="succeeded",
    trigger="schedule",
    attempt=2,
    scheduled_for=QUEUED,
    started_at=QUEUED + timedelta(seconds=31),
    finished_at=QUEUED + timedelta(seconds=44),
    stats=_ROWS,
    attempts=[
        AttemptOut(
            number=1,
            started_at=QUEUED + timedelta(seconds=1),
            ended_at=QUEUED + timedelta(seconds=6),
            outcome="failed",
            error=RunErrorOut(
                type="connector_failed", message="the source did not answer", retryable=True
            ),
            stats=RunStatsOut(rows_read=500, rows_written=0, streams={}),
        ),
        AttemptOut(
            number=2,
            started_at=QUEUED + timedelta(seconds=31),
            ended_at=QUEUED + timedelta(seconds=44),
            outcome="succeeded",
            error=None,
            stats=_ROWS,
        ),
    ],
)
CANCELLING_RUN = msgspec.structs.replace(
    QUEUED_RUN,
    status="running",
    started_at=QUEUED + timedelta(seconds=1),
    cancel_requested=True,
    stats=RunStatsOut(
        rows_read=500,
        rows_written=500,
        streams={"public.orders": StreamStatsOut(rows_read=500, rows_written=500, estimate=1040)},
    ),
)
_AT = datetime(2025, 1, 16, 9, 0, 0, 120000, tzinfo=UTC)


def _check(
    component: str, kind: str, status: Literal["pass", "fail"], value: float, unit: str
) -> HealthCheckEntry:
    return HealthCheckEntry(
        component_id=component,
        component_type=kind,
        status=status,
        time=_AT,
        observed_value=value,
        observed_unit=unit,
    )


READY = HealthBody(
    status="pass",
    checks={
        "database": [
            _check("connection", "datastore", "pass", 4.07, "ms"),
            _check("migrations", "datastore", "pass", 0, "pending"),
        ],
        "secrets": [_check("store", "datastore", "pass", 5.39, "ms")],
    },
)
NOT_READY = HealthBody(
    status="fail",
    checks={
        "database": [
            msgspec.structs.replace(
                _check("connection", "datastore", "fail", 1000, "ms"),
                output="the database did not answer in time",
            )
        ]
    },
)
METRICS = (
    "# HELP thedata_http_requests_total HTTP requests answered, by method, route template "
    "and status class.\n"
    "# TYPE thedata_http_requests_total counter\n"
    'thedata_http_requests_total{method="GET",route="/v1/orgs",status_class="2xx"} 42.0\n'
)


def one(summary: str, body: Any, description: str | None = None) -> dict[str, Example]:
    """A single example, named ``example``."""
    return {"example": example(summary, body, description)}


@dataclass(frozen=True)
class Examples:
    """What one operation's document shows: its request bodies, and its answers by status
    (a problem answer shows the status's problem unless given here)."""

    requests: Mapping[str, Example] = field(default_factory=dict)
    answers: Mapping[int, Mapping[str, Example]] = field(default_factory=dict)

    def show_in(self, operation: dict[str, Any]) -> None:
        """Add the examples to ``operation``, an operation object of the document."""
        body = operation.get("requestBody")
        if body is not None and self.requests:
            for media in body.get("content", {}).values():
                media["examples"] = shown(self.requests)
        for status, answer in (operation.get("responses") or {}).items():
            own = self.answers.get(int(status))
            for media_type, media in (answer.get("content") or {}).items():
                if own:
                    media["examples"] = shown(own)
                elif media_type == PROBLEM_MEDIA_TYPE:
                    name = problem_example_name(int(status))
                    media["examples"] = {name: {"$ref": f"#/components/examples/{name}"}}


class ExampleOperation(Operation):
    """An operation whose document shows the examples of its class (see ``operation_class``)
    and the headers its answers carry (``openapi_headers``)."""

    examples: ClassVar[Examples] = Examples()

    def to_schema(self) -> dict[str, Any]:
        """The operation's document, with the examples."""
        document = super().to_schema()
        self.examples.show_in(document)
        declare_headers(document)
        return document


def operation_class(examples: Examples) -> type[Operation]:
    """An ``operation_class`` (of Litestar's route handlers) that shows ``examples``."""
    return type("ExampleOperation", (ExampleOperation,), {"examples": examples})


_POSTGRES_SOURCE = {
    "name": "warehouse",
    "kind": "postgres",
    "config": {
        "host": "db.internal",
        "port": 5432,
        "database": "sales",
        "user": "reader",
        "password": "s3cret-reader-passphrase",
        "schema": "public",
        "sslmode": "require",
    },
}
_FILE_SOURCE = {"name": "exports", "kind": "file", "config": {"path": "exports", "format": "csv"}}

OPERATIONS: dict[str, Examples] = {
    # authentication and the caller's account
    "POST /v1/auth/register": Examples(
        requests=one(
            "A new account",
            RegisterRequest(email="ada@example.com", password=PASSWORD, name="Ada Lovelace"),
        ),
        answers={
            201: one(
                "Signed up and signed in",
                RegistrationBody(
                    user=USER, access_token=ACCESS_TOKEN, expires_at=CREATED + timedelta(days=1)
                ),
            )
        },
    ),
    "POST /v1/auth/token": Examples(
        requests=one(
            "Email and password", TokenRequest(email="ada@example.com", password=PASSWORD)
        ),
        answers={
            200: one(
                "An access token",
                TokenBody(access_token=ACCESS_TOKEN, expires_at=QUEUED + timedelta(days=1)),
            )
        },
    ),
    "GET /v1/users/me": Examples(answers={200: one("The owner of one organization", ME)}),
    "PATCH /v1/users/me": Examples(
        requests={
            "rename": example("A new name", UpdateMeRequest(name="Ada King")),
            "password": example(
                "A new password",
                UpdateMeRequest(password=NEW_PASSWORD, current_password=PASSWORD),
                "Needs the current password; signs out every other access token.",
            ),
        },
        answers={200: one("The account", msgspec.structs.replace(ME, name="Ada King"))},
    ),
    # organizations
    "GET /v1/orgs": Examples(
        answers={
            200: one(
                "A page with more after it",
                OrganizationPage(items=[ORGANIZATION], next_cursor=NEXT_CURSOR),
            )
        }
    ),
    "POST /v1/orgs": Examples(
        requests=one(
            "A name and a slug", CreateOrganizationRequest(name="Acme Data", slug="acme-data")
        ),
        answers={201: one("The new organization; the caller owns it", ORGANIZATION)},
    ),
    "GET /v1/orgs/{org_id}": Examples(answers={200: one("An organization", ORGANIZATION)}),
    "PATCH /v1/orgs/{org_id}": Examples(
        requests=one("A new name", UpdateOrganizationRequest(name="Acme Data Inc.")),
        answers={
            200: one(
                "The organization",
                msgspec.structs.replace(ORGANIZATION, name="Acme Data Inc.", updated_at=QUEUED),
            )
        },
    ),
    # members
    "GET /v1/orgs/{org_id}/members": Examples(
        answers={
            200: one(
                "The last page",
                MemberPage(
                    items=[
                        MemberBody(USER_ID, USER.email, USER.name, "owner", CREATED),
                        MEMBER,
                    ],
                    next_cursor=None,
                ),
            )
        }
    ),
    "POST /v1/orgs/{org_id}/members": Examples(
        requests=one(
            "A registered user, as a member",
            AddMemberRequest(email="grace@example.com", role="member"),
        ),
        answers={201: one("The new member", MEMBER)},
    ),
    "PATCH /v1/orgs/{org_id}/members/{user_id}": Examples(
        requests=one("Make an admin", ChangeRoleRequest(role="admin")),
        answers={200: one("The member", msgspec.structs.replace(MEMBER, role="admin"))},
    ),
    # API keys
    "GET /v1/orgs/{org_id}/api-keys": Examples(
        answers={200: one("The last page", ApiKeyPage(items=[API_KEY], next_cursor=None))}
    ),
    "POST /v1/orgs/{org_id}/api-keys": Examples(
        requests=one(
            "A member key that expires",
            CreateApiKeyRequest(
                name="nightly loader", role="member", expires_at=datetime(2026, 1, 15, tzinfo=UTC)
            ),
        ),
        answers={
            201: one(
                "The new key, with its secret this once",
                CREATED_KEY,
                'A replay of the request (`Idempotent-Replayed: true`) has `"key": null`.',
            )
        },
    ),
    # data sources
    "GET /v1/orgs/{org_id}/data-sources": Examples(
        answers={200: one("A page with more after it", DataSourcePage([WAREHOUSE], NEXT_CURSOR))}
    ),
    "POST /v1/orgs/{org_id}/data-sources": Examples(
        requests={
            "postgres": example(
                "A PostgreSQL database",
                _POSTGRES_SOURCE,
                "`password` is sealed in the secret store; answers name it in "
                "`secret_fields_set` and never show it.",
            ),
            "file": example(
                "A folder of CSV files",
                _FILE_SOURCE,
                "`path` is relative to the organization's folder under the data root.",
            ),
        },
        answers={
            201: {
                "postgres": example("A PostgreSQL database", WAREHOUSE),
                "file": example("A folder of CSV files", EXPORTS),
            }
        },
    ),
    "GET /v1/orgs/{org_id}/data-sources/{data_source_id}": Examples(
        answers={200: one("A data source", WAREHOUSE)}
    ),
    "PATCH /v1/orgs/{org_id}/data-sources/{data_source_id}": Examples(
        requests={
            "rename": example("A new name", UpdateDataSourceRequest(name="sales warehouse")),
            "password": example(
                "A new password",
                UpdateDataSourceRequest(config={"password": "a-new-reader-passphrase"}),
                "Config fields left out keep their values; a secret given replaces the stored one.",
            ),
        },
        answers={
            200: one("The data source", msgspec.structs.replace(WAREHOUSE, updated_at=QUEUED))
        },
    ),
    "POST /v1/orgs/{org_id}/data-sources/{data_source_id}/check": Examples(
        answers={
            200: {
                "ok": example("It answered", CheckBody(ok=True, latency_ms=3.9)),
                "failed": example(
                    "It did not",
                    CheckBody(
                        ok=False,
                        latency_ms=5000.0,
                        error="could not connect to db.internal:5432 in time",
                    ),
                ),
            }
        }
    ),
    "GET /v1/orgs/{org_id}/data-sources/{data_source_id}/streams": Examples(
        answers={
            200: one(
                "The tables of a schema",
                StreamsBody(
                    streams=[
                        StreamBody(
                            name="public.orders",
                            fields=[
                                FieldBody("id", "bigint"),
                                FieldBody("customer", "text"),
                                FieldBody("total", "numeric"),
                                FieldBody("updated_at", "timestamp with time zone"),
                            ],
                            primary_key=["id"],
                        )
                    ]
                ),
            )
        }
    ),
    # pipelines and runs
    "GET /v1/orgs/{org_id}/pipelines": Examples(
        answers={200: one("The last page", PipelinePage(items=[PIPELINE], next_cursor=None))}
    ),
    "POST /v1/orgs/{org_id}/pipelines": Examples(
        requests=one(
            "An incremental stream, every night at 03:00 UTC",
            CreatePipelineRequest(
                name="nightly sales",
                source_id=SOURCE_ID,
                destination_id=DESTINATION_ID,
                streams=[ORDERS],
                schedule=ScheduleSpec(cron="0 3 * * *"),
            ),
        ),
        answers={201: one("The new pipeline", msgspec.structs.replace(PIPELINE, state={}))},
    ),
    "GET /v1/orgs/{org_id}/pipelines/{pipeline_id}": Examples(
        answers={200: one("A pipeline with its state", PIPELINE)}
    ),
    "PATCH /v1/orgs/{org_id}/pipelines/{pipeline_id}": Examples(
        requests={
            "hourly": example(
                "Every hour", UpdatePipelineRequest(schedule=ScheduleSpec(every_seconds=3600))
            ),
            "pause": example("Pause it", UpdatePipelineRequest(enabled=False)),
        },
        answers={
            200: one(
                "The pipeline",
                msgspec.structs.replace(
                    PIPELINE,
                    schedule=ScheduleOut(every_seconds=3600),
                    next_run_at=QUEUED + timedelta(hours=1),
                    updated_at=QUEUED,
                ),
            )
        },
    ),
    "POST /v1/orgs/{org_id}/pipelines/{pipeline_id}/runs": Examples(
        answers={202: one("The queued run", QUEUED_RUN)}
    ),
    "GET /v1/orgs/{org_id}/pipelines/{pipeline_id}/runs": Examples(
        answers={
            200: one(
                "Newest first",
                RunPage(
                    items=[
                        QUEUED_RUN,
                        msgspec.structs.replace(SUCCEEDED_RUN, id=UUID(int=RUN_ID.int - 1)),
                    ],
                    next_cursor=NEXT_CURSOR,
                ),
            )
        }
    ),
    "GET /v1/orgs/{org_id}/runs": Examples(
        answers={200: one("Newest first", RunPage(items=[SUCCEEDED_RUN], next_cursor=None))}
    ),
    "GET /v1/orgs/{org_id}/runs/{run_id}": Examples(
        answers={200: one("A run that succeeded on its second attempt", SUCCEEDED_RUN)}
    ),
    "POST /v1/orgs/{org_id}/runs/{run_id}/cancel": Examples(
        answers={
            202: one(
                "A running run, asked to stop at its next batch",
                CANCELLING_RUN,
                "A queued run is `cancelled` at once.",
            )
        }
    ),
    # operations
    "GET /health/live": Examples(answers={200: one("Serving", HealthBody(status="pass"))}),
    "GET /health/ready": Examples(
        answers={
            200: one("Ready", READY),
            503: one("The database does not answer", NOT_READY),
        }
    ),
    "GET /metrics": Examples(answers={200: one("Prometheus' text format", METRICS)}),
}
"""Each operation's examples, by ``"METHOD /path"`` as the document spells it. Operations
without a body nor content to show (the 204s) need none: their problems show anyway."""


def operation_examples(method: str, path: str) -> Examples:
    """The examples of the operation ``method path`` (problems only, when none are listed)."""
    return OPERATIONS.get(f"{method.upper()} {path}", Examples())
