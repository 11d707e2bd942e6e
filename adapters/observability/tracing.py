"""Traces with OpenTelemetry, and their ids on log lines.

Tracing is off unless a tracer provider is configured: the ``otel`` extra installed with
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) or ``OTEL_TRACES_EXPORTER``
set, or a host program that set its own global provider. Off means no span code runs at
all, not a no-op tracer called per request (that cost the hot path measurably).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import Tracer
from structlog.typing import EventDict, WrappedLogger

from thedata.application.ports.tracing import NoSpans

log = structlog.get_logger("thedata.tracing")
INSTRUMENTATION = "thedata"


def tracer_from_environment() -> Tracer | None:
    """The service's tracer when tracing is configured (see the module), else ``None``."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    provider = trace.get_tracer_provider()
    if not isinstance(provider, trace.ProxyTracerProvider):  # a host program's own
        return provider.get_tracer(INSTRUMENTATION)
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not endpoint and exporter in ("", "none"):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_* is set but the otel extra is not installed: no traces")
        return None
    sdk_provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "thedata")})
    )
    sdk_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(sdk_provider)
    return sdk_provider.get_tracer(INSTRUMENTATION)


class _Traced:
    """Whether this process traces requests: access lines then look for their trace (their
    rendering, done in a batch later, reads it from the request's captured context)."""

    requests = False


TRACED = _Traced()


def trace_requests() -> None:
    """This process traces its requests: their access lines carry the trace's ids."""
    TRACED.requests = True


def add_trace_ids(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """The structlog processor: the current span's trace and span ids on the line."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def current_trace_parent() -> str | None:
    """The current span as a W3C ``traceparent``, to store with what outlives the request
    (a queued run); ``None`` when this process does not trace."""
    if not TRACED.requests:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


class OpenTelemetrySpans:
    """``Spans`` with an OpenTelemetry tracer (an error escaping a span marks it failed)."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def span(self, name: str, attributes: Mapping[str, str | int]) -> AbstractContextManager[None]:
        return _span(self._tracer, name, attributes)


@contextmanager
def _span(tracer: Tracer, name: str, attributes: Mapping[str, str | int]) -> Iterator[None]:
    with tracer.start_as_current_span(name, attributes=dict(attributes)):
        yield


def spans_for(tracer: Tracer | None) -> OpenTelemetrySpans | NoSpans:
    """Spans of ``tracer``, or none when the process does not trace."""
    return OpenTelemetrySpans(tracer) if tracer is not None else NoSpans()
