"""JSON Lines frames decoded here into rows for a text ``COPY``, as ``json_populate_record``
would read them, about twice as fast as the server turning each line into a row.

Each line is decoded by msgspec into a struct made for the destination's columns, every
value typed for the cheapest exact path: whole numbers as ``int``, booleans as ``bool``,
strings as ``str``, and numbers that must keep every digit (``numeric``, floats) and JSON
(``json``, ``jsonb``) as the raw JSON text, which is what those types' input functions
read. A missing key, or ``null``, is NULL; other keys are ignored. A line whose values do
not have the kinds expected (a string in a number's column, an object in a text column) is
read again value by value, as the server would: a JSON string's text, any other value's
JSON text, for the column type's input function to accept or refuse. Arrays and composite
types take the server's path: JSON arrays become PostgreSQL arrays there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from attrs import frozen

from thedata.application.ports.streams import StreamFailed

BOOL_OID = 16
_WHOLE_NUMBERS = {20, 21, 23}  # bigint, smallint, integer
_EXACT_NUMBERS = {1700, 700, 701}  # numeric, real, double precision
_JSON = {114, 3802}  # json, jsonb
_NULL = msgspec.Raw(b"null")
_STRING = msgspec.json.Decoder(str)

NOT_JSON = "a JSON Lines record is not valid JSON"
NOT_AN_OBJECT = "a JSON Lines record is not an object"
EMPTY_LINE = "a line of the batch is empty: every line must be one JSON object"


def _json(raw: msgspec.Raw) -> str | None:
    """A raw JSON value for a ``json`` or ``jsonb`` column: its JSON text, ``null`` none."""
    data = bytes(raw)
    return None if data == b"null" else data.decode()


def _text(raw: msgspec.Raw) -> str | None:
    """A raw JSON value as ``json_populate_record`` hands it to a column's input function:
    a string's text, any other value's JSON text, ``null`` none."""
    data = bytes(raw)
    if data == b"null":
        return None
    if data[:1] == b'"':
        return _STRING.decode(data)
    return data.decode()


@frozen
class JsonLinesRows:
    """How one destination's columns are read from JSON Lines."""

    decoder: msgspec.json.Decoder[Any]
    exact: msgspec.json.Decoder[Any]
    numbers: tuple[int, ...]
    """The fields read as raw JSON for a number's text."""
    documents: tuple[int, ...]
    """The fields read as raw JSON for a ``json`` or ``jsonb`` column."""

    @classmethod
    def for_columns(
        cls, names: Sequence[str], kinds: Sequence[tuple[str, str, int]]
    ) -> JsonLinesRows | None:
        """The reading of columns ``names`` whose types are ``kinds`` (category, type kind
        and oid of the type, or of a domain's base type); ``None`` where an array or a
        composite type needs the server's path."""
        fields: list[tuple[str, Any, Any]] = []
        numbers: list[int] = []
        documents: list[int] = []
        for index, (category, type_kind, oid) in enumerate(kinds):
            name = f"f{index}"
            if category == "A" or type_kind == "c":
                return None
            if oid in _WHOLE_NUMBERS:
                fields.append((name, int | None, None))
            elif oid == BOOL_OID:
                fields.append((name, bool | None, None))
            elif oid in _EXACT_NUMBERS or oid in _JSON:
                fields.append((name, msgspec.Raw, _NULL))
                (documents if oid in _JSON else numbers).append(index)
            else:
                fields.append((name, str | None, None))
        rename = {f"f{index}": name for index, name in enumerate(names)}
        typed = msgspec.defstruct("JsonLine", fields, rename=rename)
        every = [(f"f{index}", msgspec.Raw, _NULL) for index in range(len(names))]
        raw = msgspec.defstruct("JsonLineValues", every, rename=rename)
        return cls(
            msgspec.json.Decoder(typed),
            msgspec.json.Decoder(raw),
            tuple(numbers),
            tuple(documents),
        )

    def row(self, line: bytes) -> tuple[Any, ...]:
        """The values of one line, in the columns' order."""
        try:
            record = self.decoder.decode(line)
        except msgspec.ValidationError:
            return self._exactly(line)
        except msgspec.DecodeError:
            raise StreamFailed(NOT_JSON) from None
        values = list(msgspec.structs.astuple(record))
        for index in self.numbers:
            values[index] = _text(values[index])
        for index in self.documents:
            values[index] = _json(values[index])
        return tuple(values)

    def _exactly(self, line: bytes) -> tuple[Any, ...]:
        """A line whose values are not of the kinds expected: each value's text, as the
        server reads it (a text COPY sends ``int``, ``bool`` and ``str`` alike as text)."""
        try:
            record = self.exact.decode(line)
        except msgspec.ValidationError:
            raise StreamFailed(NOT_AN_OBJECT) from None
        except msgspec.DecodeError:
            raise StreamFailed(NOT_JSON) from None
        values = msgspec.structs.astuple(record)
        return tuple(
            _json(value) if index in self.documents else _text(value)
            for index, value in enumerate(values)
        )


async def lines(frames: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The lines of a batch's byte frames, wherever the frames were cut."""
    rest = b""
    async for frame in frames:
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise StreamFailed("a jsonl batch carried something other than bytes")
        data = rest + frame if rest else bytes(frame)
        *whole, rest = data.split(b"\n")
        for line in whole:
            yield _non_empty(line)
    if rest.strip():
        yield rest


def _non_empty(line: bytes) -> bytes:
    if not line.strip():
        raise StreamFailed(EMPTY_LINE)
    return line
