"""The ``postgres`` kind's config: where the database is and how to sign in to it."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from thedata.adapters.connectors.network import host_problems
from thedata.domain.errors import FieldError

# no whitespace, slashes or control characters; ascii_host judges the rest (IDNA, labels)
Host = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[^\s/\x00-\x1f\x7f]+$")]
Identifier = Annotated[
    str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[^\x00-\x1f\x7f]+$")
]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A PostgreSQL database; ``password`` is a secret (stored sealed, never returned).

    With a password the server must authenticate with SCRAM-SHA-256 (the
    password never leaves in clear or as MD5); without one, it must ask for
    nothing. ``verify-full`` checks the server's certificate against the
    system's trusted authorities.
    """

    host: Host
    database: Identifier
    user: Identifier
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5432
    password: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    schema: Identifier = "public"
    sslmode: SslMode = "prefer"


SECRET_FIELDS = ("password",)
# sslmode too: a weaker one lets whoever sits on the path pose as the server, which is as
# good as pointing the data source at a server of one's own
TARGET_FIELDS = ("host", "port", "database", "user", "sslmode")

MAX_NAME_BYTES = 63
# temporary schemas last one session (a table written there vanishes); the others are the
# server's own
SYSTEM_SCHEMAS = ("pg_temp", "pg_toast", "pg_catalog", "information_schema")

VERIFY_CA = (
    "verify-ca needs a CA certificate, which a data source cannot name; use verify-full "
    "(the system's trusted authorities) or require"
)


def config_problems(
    _environment: object, _organization_id: UUID, config: PostgresConfig
) -> list[FieldError]:
    """What the schema cannot say: a host DNS would refuse, an sslmode that cannot work."""
    problems = host_problems(config.host)
    if config.sslmode == "verify-ca":
        problems.append(FieldError("/sslmode", VERIFY_CA))
    for field in ("database", "user", "schema"):
        if len(getattr(config, field).encode("utf-8")) > MAX_NAME_BYTES:
            # the server would cut it short and name something else
            problems.append(FieldError(f"/{field}", f"at most {MAX_NAME_BYTES} bytes in UTF-8"))
    if config.schema.lower().startswith(SYSTEM_SCHEMAS):
        problems.append(FieldError("/schema", "a system schema holds no data source's tables"))
    return problems
