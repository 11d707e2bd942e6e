"""msgspec validation errors become JSON pointers in one helper, for factory and HTTP edge."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from thedata.adapters.field_errors import field_error, location_pointer
from thedata.entrypoints.http.problems import body_pointer


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    tags: list[Annotated[str, msgspec.Meta(max_length=3)]] = []


class Outer(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    inner: Inner = msgspec.field(default_factory=Inner)
    by_key: dict[str, int] = {}


@pytest.mark.parametrize(
    ("value", "pointer"),
    [
        ({}, "/config/name"),  # missing: named inside the message
        ({"name": "n", "extra": 1}, "/config/extra"),  # unknown: named inside the message
        ({"name": 1}, "/config/name"),
        ({"name": "n", "inner": {"tags": ["ok", "toolong"]}}, "/config/inner/tags/1"),
        ({"name": "n", "inner": {"nope": 1}}, "/config/inner/nope"),
        ({"name": "n", "by_key": {"a": "x"}}, "/config/by_key"),  # msgspec hides dict keys
        ([], "/config"),
    ],
)
def test_a_validation_error_points_at_its_field(value: object, pointer: str) -> None:
    """The pointer comes from msgspec's location and the field its message names."""
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert(value, Outer)
    error = field_error(raised.value, "/config")
    assert error.field == pointer
    assert " - at " not in error.message


def test_pointers_escape_slashes_and_tildes() -> None:
    """RFC 6901: '~' is '~0' and '/' is '~1' inside a segment."""
    assert location_pointer("$", "Object contains unknown field `a/b~c`") == "/a~1b~0c"


@pytest.mark.parametrize(
    ("key", "message", "pointer"),
    [
        ("data", "Object missing required field `name`", "/name"),
        ("config", "Object missing required field `host`", "/config/host"),
        ("config.port", "Expected `int` <= 65535", "/config/port"),
        ("inner.tags[0]", "Expected `str` of length <= 3", "/inner/tags/0"),
    ],
)
def test_the_http_edge_reads_litestars_locations_with_the_same_helper(
    key: str, message: str, pointer: str
) -> None:
    """Litestar hands msgspec's location without its '$' ('data' is the body): same pointers."""
    assert body_pointer(key, message) == pointer
