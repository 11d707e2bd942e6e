"""Spans around the steps of a run, as a port: OpenTelemetry in the service when it traces,
nothing otherwise (and for a library user who wants none)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Spans(Protocol):
    """Opens a span for a step; what runs inside belongs to it (its statements, its lines)."""

    def span(self, name: str, attributes: Mapping[str, str | int]) -> AbstractContextManager[None]:
        """A span named ``name`` around the ``with`` block; an error escaping it marks it."""
        ...


class NoSpans:
    """Opens nothing."""

    def span(self, name: str, attributes: Mapping[str, str | int]) -> AbstractContextManager[None]:
        return _nothing()


@contextmanager
def _nothing() -> Iterator[None]:
    yield
