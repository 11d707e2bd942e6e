"""How deep a JSON body nests, measured without recursion."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from thedata.entrypoints.http.json_body import MAX_JSON_DEPTH, nests_deeper_than

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """The model: how many arrays and objects are open at the deepest point."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@given(value=json_values, limit=st.integers(0, 8))
def test_the_depth_is_measured_exactly(value: Any, limit: int) -> None:
    """A value nests deeper than the limit exactly when its deepest point is past it."""
    assert nests_deeper_than(value, limit) == (depth(value) > limit)


def test_the_limit_is_reached_but_not_passed_at_its_value() -> None:
    """MAX_JSON_DEPTH levels pass, one more does not, arrays and objects alike."""
    for opened in (MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1):
        arrays = msgspec.json.decode(b"[" * opened + b"]" * opened)
        objects = msgspec.json.decode(b'{"a":' * opened + b"1" + b"}" * opened)
        for value in (arrays, objects):
            assert nests_deeper_than(value, MAX_JSON_DEPTH) == (opened > MAX_JSON_DEPTH)
