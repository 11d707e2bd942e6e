"""A stream's rows summarised, so that a destination can be checked against its source.

Each row is spelled as PostgreSQL spells a record of its columns (``ROW(a, b)::text``:
``(1,"a b",)``, NULL as nothing, a field quoted when it is empty or holds a quote, a
backslash, a parenthesis, a comma or white space, quotes and backslashes doubled) from
its values' text forms; the checksum is the sum of the first 64 bits of each spelling's
MD5, modulo 2**64: independent of the rows' order, and changed by any row added, lost,
duplicated or altered. PostgreSQL computes the same sum in SQL
(``adapters/connectors/postgres/fingerprint.py``), so the two sides can be compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from thedata.application.ports.streams import Fingerprint

MODULUS = 2**64
_NEEDS_QUOTES = frozenset('"\\(),') | frozenset(" \t\n\r\v\f")


def _field(value: str | None) -> str:
    if value is None:
        return ""
    if value == "" or any(c in _NEEDS_QUOTES for c in value):
        return '"' + value.replace("\\", "\\\\").replace('"', '""') + '"'
    return value


def record_text(values: Iterable[str | None]) -> str:
    """A row as ``ROW(...)::text`` spells it, from its values' text forms."""
    return "(" + ",".join(_field(value) for value in values) + ")"


class FingerprintBuilder:
    """Adds rows up into a ``Fingerprint``."""

    def __init__(self) -> None:
        self.rows = 0
        self.checksum = 0

    def add(self, values: Iterable[str | None]) -> None:
        """Count one row, given its values' text forms (``None`` for NULL)."""
        digest = hashlib.md5(record_text(values).encode("utf-8"), usedforsecurity=False)
        self.checksum = (self.checksum + int.from_bytes(digest.digest()[:8], "big")) % MODULUS
        self.rows += 1

    def result(self, *, complete: bool = True) -> Fingerprint:
        """The fingerprint of the rows added so far."""
        return Fingerprint(self.rows, self.checksum, complete)
