"""Each kind's config schema (msgspec), shared by validation and the HTTP API's documents."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# no whitespace, slashes or control characters (libpq and PostgreSQL refuse NUL anyway)
Host = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[^\s/\x00-\x1f\x7f]+$")]
Identifier = Annotated[
    str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[^\x00-\x1f\x7f]+$")
]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A PostgreSQL database; ``password`` is a secret (stored sealed, never returned)."""

    host: Host
    database: Identifier
    user: Identifier
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5432
    password: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    schema: Identifier = "public"
    sslmode: SslMode = "prefer"


class FileConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A folder of CSV or JSON Lines files under the server's data root."""

    # control characters, '..' and escapes are refused by folder_under_root, with the reason
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    format: Literal["csv", "jsonl"]
