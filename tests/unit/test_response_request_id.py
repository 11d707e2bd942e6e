"""The response's ``X-Request-ID`` header: ours, exactly once, the other headers untouched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from thedata.entrypoints.http.request_context import _with_request_id

NAMES = st.sampled_from(
    [b"content-type", b"x-request-id", b"X-Request-ID", b"X-REQUEST-ID", b"x-request-i", b"etag"]
)
HEADERS = st.lists(st.tuples(NAMES, st.binary(max_size=8)), max_size=6)


@given(headers=HEADERS, as_tuple=st.booleans())
def test_the_response_carries_our_id_once_and_every_other_header(
    headers: list[tuple[bytes, bytes]], as_tuple: bool
) -> None:
    others = [h for h in headers if h[0].lower() != b"x-request-id"]
    given_headers = tuple(headers) if as_tuple else list(headers)
    result = _with_request_id(given_headers, "req-1")
    ours = [h for h in result if h[0].lower() == b"x-request-id"]
    assert ours == [(b"x-request-id", b"req-1")]
    assert [h for h in result if h[0].lower() != b"x-request-id"] == others


def test_a_list_given_twice_still_carries_one_id() -> None:
    headers = [(b"content-type", b"application/json")]
    _with_request_id(headers, "req-1")
    result = _with_request_id(headers, "req-2")
    assert [h for h in result if h[0] == b"x-request-id"] == [(b"x-request-id", b"req-2")]
