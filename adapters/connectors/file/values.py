"""Values in files: the types files are read as, how cursors compare, rows in and out.

A file's value is PostgreSQL's text form of it (CSV) or what ``to_json`` makes
of it (JSON Lines): docs/engine.md has the table. Files the engine wrote carry
their columns' PostgreSQL types in their manifest; other files are typed from a
sample (``sampling``): whole numbers ``bigint``, other numbers ``numeric``,
``true``/``false`` ``boolean``, objects and arrays ``jsonb``, the rest ``text``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec

from thedata.application.ports.streams import Column, StreamFailed

SAMPLED_TYPES = {
    "integer": "bigint",
    "number": "numeric",
    "boolean": "boolean",
    "string": "text",
    "object": "jsonb",
    "array": "jsonb",
    "null": "text",
}
"""What a sampled field's kind is read as."""

_INTEGERS = {"bigint", "integer", "smallint"}
_DECIMALS = {"numeric", "real", "double precision"}
_JSON = {"json", "jsonb"}
_TIMESTAMPS = {"timestamp with time zone", "timestamp without time zone"}

JSON_DECODER = msgspec.json.Decoder(float_hook=Decimal)
"""JSON with every number that is not whole kept exact (``numeric`` values survive)."""
_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number")


_MODIFIER = re.compile(r"\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\)")


def json_record(line: bytes) -> dict[str, Any]:
    """A JSON Lines record as an object; ``StreamFailed`` when it is not one."""
    try:
        document = JSON_DECODER.decode(line)
    except (msgspec.DecodeError, RecursionError):
        raise StreamFailed("a JSON Lines record is not valid JSON") from None
    if not isinstance(document, dict):
        raise StreamFailed("a JSON Lines record is not an object")
    return document


def base_type(type_name: str) -> str:
    """The type without its modifier, wherever it stands: ``numeric(12,2)`` is ``numeric``,
    ``timestamp(3) with time zone`` is ``timestamp with time zone``."""
    return _MODIFIER.sub("", type_name).strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("t", "true"):
        return True
    if text in ("f", "false"):
        return False
    raise ValueError(text)


def _decimal(value: Any) -> Decimal:
    number = Decimal(str(value))
    if number.is_nan():
        raise ValueError("NaN has no order here")
    return number


def _timestamp(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _ordering(type_name: str) -> Callable[[Any], Any]:
    base = base_type(type_name)
    if base in _INTEGERS:
        return int
    if base in _DECIMALS:
        return _decimal
    if base in _TIMESTAMPS:
        return _timestamp
    if base == "date":
        return lambda value: date.fromisoformat(str(value))
    if base in ("time without time zone", "time"):
        return lambda value: time.fromisoformat(str(value))
    if base == "boolean":
        return _boolean
    if base == "uuid":
        return lambda value: UUID(str(value))
    return str  # text and every other type: by code point


class CursorOrder:
    """Turns a record's cursor and key values into something Python orders as PostgreSQL
    would order the typed values (text by code point, the ``C`` collation)."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self._columns = tuple(columns)
        self._orderings = tuple(_ordering(column.type) for column in columns)

    def key(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """The sort key of ``values`` (text forms or JSON values, cursor first)."""
        result = []
        for column, ordering, value in zip(self._columns, self._orderings, values, strict=True):
            if value is None:
                raise StreamFailed(
                    f"the cursor column {column.name!r} holds NULL values"
                    if column is self._columns[0]
                    else f"the key column {column.name!r} holds NULL values"
                )
            try:
                result.append(ordering(value))
            except (ValueError, TypeError, InvalidOperation):
                raise StreamFailed(
                    f"the column {column.name!r} holds a value that is not a {column.type}"
                ) from None
        return tuple(result)


def text_form(value: Any) -> str:
    """A cursor or key value as a position stores it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def decoded(text: bytes | None, type_name: str) -> Any:
    """A CSV field as the Python value rows carry (text forms for types without one)."""
    if text is None:
        return None
    try:
        value = text.decode("utf-8")
    except UnicodeDecodeError:
        raise StreamFailed("a value is not UTF-8 text") from None
    base = base_type(type_name)
    try:
        if base in _INTEGERS:
            return int(value)
        if base == "numeric":
            return Decimal(value)
        if base in ("real", "double precision"):
            return float(value)
        if base == "boolean":
            return _boolean(value)
        if base in _JSON:
            return JSON_DECODER.decode(text)
    except (ValueError, InvalidOperation, msgspec.DecodeError):
        raise StreamFailed(f"a value {value[:40]!r} is not a {type_name}") from None
    return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return _array_text(value)
    text = _scalar_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_text(values: Sequence[Any]) -> str:
    return "{" + ",".join(_array_element(value) for value in values) + "}"


def csv_text(value: Any, type_name: str) -> bytes | None:
    """A row's value as PostgreSQL's text form, for a CSV field (``None`` for NULL)."""
    if value is None:
        return None
    if base_type(type_name) in _JSON:
        return _JSON_ENCODER.encode(value)
    if isinstance(value, list | tuple):
        return _array_text(value).encode("utf-8")
    return _scalar_text(value).encode("utf-8")


def json_value(value: Any, type_name: str) -> Any:
    """A row's value as ``to_json`` writes it: numbers, booleans, JSON and arrays as JSON's
    own, everything else a string of its text form."""
    if value is None or isinstance(value, bool | int | Decimal | dict):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _scalar_text(value)
    if isinstance(value, list | tuple):
        if base_type(type_name) in _JSON:
            return list(value)
        element = type_name.removesuffix("[]")
        return [json_value(item, element) for item in value]
    if base_type(type_name) in _JSON and isinstance(value, str):
        return JSON_DECODER.decode(value)
    return _scalar_text(value)


def json_line(names: Sequence[str], values: Sequence[Any], types: Sequence[str]) -> bytes:
    """One JSON Lines record of ``values`` under ``names``."""
    record = {
        name: json_value(value, type_name)
        for name, value, type_name in zip(names, values, types, strict=True)
    }
    return _JSON_ENCODER.encode(record) + b"\n"
