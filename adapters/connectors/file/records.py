"""Records of CSV and JSON Lines bytes: counted, cut and split without losing a byte.

CSV is PostgreSQL's dialect (``FrameFormat.CSV``): a field is quoted when it
holds a comma, a quote or a line break, so a record may span lines; an empty
unquoted field is NULL and ``""`` an empty string. Python's ``csv`` module
cannot tell those two apart, so fields are split here, by regular expressions
that run in C over a whole record. JSON Lines keep one record per line (JSON
escapes line breaks), so lines are records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from thedata.application.ports.streams import StreamFailed

_QUOTED = re.compile(rb'"[^"]*"')
# a whole record: unquoted bytes or quoted sections ("" inside is two sections), then \n
_RECORD = re.compile(rb'(?:[^"\n]++|"[^"]*+")*+\n')  # possessive: no backtracking
_FIELD = re.compile(rb'"((?:[^"]|"")*)"(?=,|\r?\n|$)|([^,"\r\n]*)(?=,|\r?\n|$)')
BOM = b"\xef\xbb\xbf"
MOST_RECORD_BYTES = 64 * 1024 * 1024
"""A record (or line) longer than this fails the stream rather than fill memory."""


def _bounded(pending: bytes) -> bytes:
    if len(pending) > MOST_RECORD_BYTES:
        raise StreamFailed(
            f"a record is longer than {MOST_RECORD_BYTES // (1024 * 1024)} MiB (a quote left "
            "open, or no line breaks?)"
        )
    return pending


class CsvRecordCounter:
    """Counts the records of CSV bytes fed in chunks that may end anywhere."""

    def __init__(self) -> None:
        self.records = 0
        self._quoted = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Count the record ends in ``chunk`` (line breaks outside quotes)."""
        data = bytes(chunk)
        if self._quoted:
            closing = data.find(b'"')
            if closing < 0:
                return
            data, self._quoted = data[closing + 1 :], False
        # every closed quoted section goes (a "" inside one closes and reopens it); a quote left
        # opens a section that the next chunk closes
        plain = _QUOTED.sub(b"", data)
        opening = plain.find(b'"')
        if opening >= 0:
            self.records += plain.count(b"\n", 0, opening)
            self._quoted = True
        else:
            self.records += plain.count(b"\n")

    @property
    def complete(self) -> bool:
        """Whether the bytes so far end outside a quoted field."""
        return not self._quoted


class CsvRecords:
    """Cuts CSV bytes fed in chunks into whole records (each ending in ``\\n``)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The records ``chunk`` completes."""
        data = self._pending + bytes(chunk)
        position = 0
        while True:
            # anchored: a record the chunk does not finish is scanned once, not from every byte
            found = _RECORD.match(data, position)
            if found is None:
                break  # incomplete (or a quote left open: judged at ``end``)
            yield found.group()
            position = found.end()
        self._pending = _bounded(data[position:])

    def end(self) -> Iterator[bytes]:
        """The last record, when the bytes do not end with a line break."""
        rest, self._pending = self._pending, b""
        if not rest:
            return
        if rest.count(b'"') % 2:
            raise StreamFailed("a CSV file ends inside a quoted field")
        yield rest + b"\n"


def csv_fields(record: bytes) -> list[bytes | None]:
    """A record's fields (``None`` for NULL, quotes undone); ``StreamFailed`` if malformed."""
    fields: list[bytes | None] = []
    position, size = 0, len(record)
    while True:
        found = _FIELD.match(record, position)
        if found is None:
            raise StreamFailed("a CSV record is malformed (a quote inside an unquoted field?)")
        quoted, plain = found.group(1), found.group(2)
        if quoted is not None:
            fields.append(quoted.replace(b'""', b'"'))
        else:
            fields.append(plain or None)
        position = found.end()
        if position >= size or record[position] != ord(","):
            return fields
        position += 1


def csv_field(value: bytes | None) -> bytes:
    """One field as PostgreSQL's CSV writes it: NULL empty, quoted when it must be."""
    if value is None:
        return b""
    if value == b"" or any(c in value for c in (b",", b'"', b"\n", b"\r")) or value[:1] == b"\\":
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


def csv_record(values: Iterable[bytes | None]) -> bytes:
    """A record of ``values`` (``None`` for NULL), ending in ``\\n``."""
    return b",".join(csv_field(value) for value in values) + b"\n"


def header_names(record: bytes) -> list[str]:
    """A header record's column names (a byte-order mark before it is dropped)."""
    names = []
    for field in csv_fields(record.removeprefix(BOM)):
        if field is None:
            raise StreamFailed("a CSV header has an empty column name")
        try:
            names.append(field.decode("utf-8"))
        except UnicodeDecodeError:
            raise StreamFailed("a CSV header is not UTF-8 text") from None
    return names


class Lines:
    """Cuts bytes fed in chunks into whole lines; blank lines are no record."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The lines ``chunk`` completes, each ending in ``\\n``."""
        data = self._pending + bytes(chunk)
        end = data.rfind(b"\n") + 1
        self._pending = _bounded(data[end:])
        for line in data[:end].splitlines(keepends=True):
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"

    def end(self) -> Iterator[bytes]:
        """The last line, when the bytes do not end with a line break."""
        rest, self._pending = self._pending, b""
        if rest.strip():
            yield rest + b"\n"
