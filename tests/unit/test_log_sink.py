"""A log line never fails what it describes: a stream that refuses it, a value that cannot
be encoded, a value whose repr raises."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from thedata.adapters.observability import configure_logging


class BrokenStream(io.StringIO):
    def write(self, _text: str) -> int:
        raise OSError(28, "No space left on device")


class Unshowable:
    def __repr__(self) -> str:
        raise RuntimeError("no")


@pytest.fixture
def restored() -> Iterator[None]:
    yield
    configure_logging(log_format="console", level="warning")


def test_a_stream_that_refuses_the_line_does_not_raise(restored: None) -> None:
    configure_logging(log_format="json", level="info", stream=BrokenStream())
    structlog.get_logger("thedata.test").info("request", status=401)


def test_values_msgspec_refuses_or_that_cannot_be_shown_still_log(restored: None) -> None:
    stream = io.StringIO()
    configure_logging(log_format="json", level="info", stream=stream)
    log = structlog.get_logger("thedata.test")
    log.info("odd file", name="caf\udce9.csv")
    log.info("odd value", value=Unshowable())
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["name"] == "caf\udce9.csv"
    assert second["event"].startswith("a log line could not be rendered")
