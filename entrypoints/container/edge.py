"""What the HTTP edge takes from adapters, named here so that the edge names no adapter.

- ``request_scope()`` / ``handing_on()``: inside a request's scope, the unit of work that
  ends within ``handing_on()`` (the one that resolved the caller) leaves its pooled
  connection to the request's next unit of work (the use case's): one checkout per
  request instead of two. Inert with the memory store.
- ``log_request(method=, route=, path=, status=, duration_ms=)``: the request's access
  line; ``flush_logs()`` writes the access lines still waiting for the loop's next turn.
- ``bind_request_id(id)`` / ``unbind_request_id(binding)``: every line written meanwhile
  in this context carries the request's id.
- ``observe_request(method, route, status, seconds)``: the request counted in the
  metrics; ``metrics_exposition()`` is what ``GET /metrics`` answers, of type
  ``METRICS_CONTENT_TYPE``; ``count_refusal(code, rate_limited=)`` counts a request
  refused for its credentials or by a rate limit; ``record_readiness(components)`` the
  last readiness verdict of each component.
- ``sampling_metrics(container)``: while its block runs, the pool's figures and the open
  breakers are sampled for the metrics.
- ``trace_requests()``: this process traces its requests (access lines carry trace ids);
  ``current_trace_parent()`` the current span as a ``traceparent`` (``None`` if not tracing).

This module imports no ``dependency_injector``: the HTTP edge may import it.
"""

from thedata.adapters.observability import (
    bind_request_id,
    flush_logs,
    log_request,
    unbind_request_id,
)
from thedata.adapters.observability.metrics import (
    METRICS_CONTENT_TYPE,
    count_refusal,
    observe_request,
    record_readiness,
)
from thedata.adapters.observability.metrics import exposition as metrics_exposition
from thedata.adapters.observability.tracing import current_trace_parent, trace_requests
from thedata.adapters.postgres.handoff import handing_on, request_scope
from thedata.entrypoints.container.resources import sampling_metrics

__all__ = [
    "METRICS_CONTENT_TYPE",
    "bind_request_id",
    "count_refusal",
    "current_trace_parent",
    "flush_logs",
    "handing_on",
    "log_request",
    "metrics_exposition",
    "observe_request",
    "record_readiness",
    "request_scope",
    "sampling_metrics",
    "trace_requests",
    "unbind_request_id",
]
