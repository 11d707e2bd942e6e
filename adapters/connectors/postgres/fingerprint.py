"""A table's fingerprint computed by PostgreSQL, the same sum ``application/fingerprint.py``
computes in Python: the first 64 bits of the MD5 of each row's ``ROW(columns)::text``, added
up modulo 2**64, under the readers' pinned output settings (so every value is spelled as a
CSV frame spells it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from thedata.adapters.connectors.postgres.tables import names_sql
from thedata.application.fingerprint import MODULUS
from thedata.application.ports.streams import Fingerprint

PINNED_OUTPUT = (
    "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY';"
    " SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1;"
    " SET LOCAL bytea_output = 'hex'"
)
"""How values are spelled as text for frames, positions and fingerprints, whatever the role's
or database's defaults."""

_SUM = (
    "SELECT count(*), coalesce(sum(('x' || left(md5(ROW({})::text), 16))::bit(64)::bigint"
    "::numeric), 0) FROM {}"
)


async def table_fingerprint(
    connection: psycopg.AsyncConnection[Any],
    table: sql.Composable,
    names: Sequence[str],
    *,
    complete: bool = True,
) -> Fingerprint:
    """``table``'s fingerprint over ``names``, in the connection's current transaction (whose
    output settings must be ``PINNED_OUTPUT``'s)."""
    query = sql.SQL(_SUM).format(names_sql(names), table)
    row = await (await connection.execute(query)).fetchone()
    assert row is not None  # noqa: S101 - an aggregate returns one row
    count, total = row
    return Fingerprint(int(count), int(total) % MODULUS, complete)
