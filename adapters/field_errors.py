"""msgspec validation errors as field errors with JSON pointers, in one place.

msgspec gives no structured location (its ``ValidationError`` carries only a
message, msgspec/msgspec#264): the location is the documented `` - at `$...` ``
suffix, and a missing or unknown field is named inside the message. This is the
one reader of that format; the connector factory and the HTTP edge both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from thedata.domain.errors import FieldError

_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
# `.name`, `[0]`, or `[...]` (a dict key msgspec does not spell out)
_SEGMENT = re.compile(r"\.?(?P<name>[^.\[\]]+)|\[(?P<index>\d+)\]|(?P<key>\[\.\.\.\])")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def json_pointer(segments: Iterable[str], prefix: str = "") -> str:
    """The RFC 6901 pointer of ``segments`` under ``prefix`` (``""`` is the whole document)."""
    return prefix + "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def location_pointer(location: str, message: str, prefix: str = "") -> str:
    """The pointer of a msgspec location (``$.a.b[0]``, with or without the ``$``) and message.

    A missing or unknown field named by the message is appended; a dict key
    msgspec elides (``[...]``) ends the pointer at that dict.
    """
    segments: list[str] = []
    for match in _SEGMENT.finditer(location.removeprefix("$")):
        if match["key"]:
            return json_pointer(segments, prefix)
        segments.append(match["name"] or match["index"])
    named = _NAMED_FIELD.search(message)
    if named:
        segments.append(named["name"])
    return json_pointer(segments, prefix)


def split_message(text: str) -> tuple[str, str]:
    """msgspec's error text as (message, location); the location is ``""`` for the root."""
    located = _LOCATED.match(text)
    if located is None:  # pragma: no cover - the pattern matches any text
        return text, ""
    return located["message"], located["path"] or ""


def field_error(error: msgspec.ValidationError, prefix: str = "") -> FieldError:
    """The field the error is about, as a JSON pointer under ``prefix``, with msgspec's reason."""
    message, location = split_message(str(error))
    return FieldError(location_pointer(location, message, prefix), message)
