"""Streams of a file, from a bounded sample of its head: bytes, rows and time are capped.

A file is read in chunks, and only until enough lines for the sample are in (or
the per-file cap); a first line longer than the cap is refused, not read. Every
chunk and every row spends from the call's ``Budget``, so a timed-out or
cancelled discovery stops within one chunk.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable

import msgspec
from attrs import frozen

from thedata.adapters.connectors.work import Budget
from thedata.application.errors import ConnectorMisconfigured
from thedata.application.ports import FieldSchema, StreamSchema

MiB = 1024 * 1024


@frozen
class Limits:
    """How much one call may read: per file, per call, rows sampled, entries listed."""

    sample_bytes: int = MiB
    """Read from the head of each file, at most; a first line must fit in it."""
    total_bytes: int = 16 * MiB
    """Read over all files of one discovery."""
    rows: int = 100
    entries: int = 10_000
    """Folder entries looked at; a folder with more is refused."""
    fields: int = 1_600
    """Fields of one stream: PostgreSQL's own column limit, so no table could take more."""
    chunk_bytes: int = 64 * 1024


class Reading:
    """The bytes one call has read so far, against its limits."""

    def __init__(self, limits: Limits, budget: Budget) -> None:
        self.limits, self.budget, self.total = limits, budget, 0

    def head(self, descriptor: int, name: str) -> list[bytes]:
        """The file's first lines (header included), whole lines only, within the limits."""
        limits = self.limits
        cap = min(limits.sample_bytes, limits.total_bytes - self.total)
        if cap <= 0:
            raise ConnectorMisconfigured(
                f"discovery stopped after reading {limits.total_bytes // MiB} MiB; "
                "put fewer files in the folder"
            )
        data, lines, complete = bytearray(), 0, False
        while len(data) < cap and lines <= limits.rows:
            self.budget.spend()
            chunk = os.read(descriptor, min(limits.chunk_bytes, cap - len(data)))
            if not chunk:
                complete = True
                break
            data += chunk
            lines += chunk.count(b"\n")
        self.total += len(data)
        if not complete:
            end = data.rfind(b"\n")
            if end < 0:
                raise ConnectorMisconfigured(
                    f"the first line of {name!r} is longer than {limits.sample_bytes // 1024} KiB"
                )
            del data[end + 1 :]  # a partial last line is no row
        return bytes(data).splitlines()[: limits.rows + 1]


def _type_of(values: Iterable[str]) -> str:
    kinds = set()
    for value in values:
        if value == "":
            continue
        if value.lstrip("-").isdigit():
            kinds.add("integer")
        elif _is_number(value):
            kinds.add("number")
        elif value.lower() in ("true", "false"):
            kinds.add("boolean")
        else:
            return "string"
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else "string"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _too_wide(name: str, most: int) -> ConnectorMisconfigured:
    return ConnectorMisconfigured(f"{name!r} has more than {most} columns, more than a table holds")


def csv_stream(
    name: str, lines: list[bytes], budget: Budget, most_fields: int = Limits().fields
) -> StreamSchema:
    """The header's fields, typed from the sampled rows."""
    text = "\n".join(line.decode("utf-8", errors="replace") for line in lines)
    text = text.removeprefix("\ufeff")  # a byte-order mark is no part of the first name
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        if len(header) > most_fields:
            raise _too_wide(name, most_fields)
        rows = []
        for row in reader:
            budget.spend()
            rows.append(row)
    except csv.Error:
        raise ConnectorMisconfigured(f"{name!r} is not a CSV file this service can read") from None
    fields = tuple(
        FieldSchema(field, _type_of(row[i] for row in rows if i < len(row)))
        for i, field in enumerate(header)
    )
    return StreamSchema(name.removesuffix(".csv"), fields)


_JSON_TYPES = {ord("{"): "object", ord("["): "array", ord('"'): "string", ord("n"): "null"}
_Record = dict[str, msgspec.Raw]


def _json_type(raw: msgspec.Raw) -> str:
    value = memoryview(raw)
    first = value[0]
    if first in _JSON_TYPES:
        return _JSON_TYPES[first]
    if first in (ord("t"), ord("f")):
        return "boolean"
    return "number" if any(c in bytes(value) for c in b".eE") else "integer"


def jsonl_stream(
    name: str, lines: list[bytes], budget: Budget, most_fields: int = Limits().fields
) -> StreamSchema:
    """The records' keys in first-seen order; a key whose type varies is a string.

    Values are not decoded (only their first byte is looked at), and a line that
    is not a JSON object, or nests too deeply to decode, is skipped.
    """
    types: dict[str, str] = {}
    for line in lines:
        budget.spend()
        try:
            record = msgspec.json.decode(line, type=_Record)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            continue
        for key, raw in record.items():
            kind = _json_type(raw)
            if kind == "null":
                types.setdefault(key, "null")
                continue
            known = types.get(key, "null")
            types[key] = kind if known in ("null", kind) else "string"
        if len(types) > most_fields:
            raise _too_wide(name, most_fields)
    return StreamSchema(
        name.removesuffix(".jsonl"), tuple(FieldSchema(k, v) for k, v in types.items())
    )
