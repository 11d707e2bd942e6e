"""What the HTTP edge takes from adapters, named here so that the edge names no adapter.

- ``request_scope()`` / ``handing_on()``: inside a request's scope, the unit of work that
  ends within ``handing_on()`` (the one that resolved the caller) leaves its pooled
  connection to the request's next unit of work (the use case's): one checkout per
  request instead of two. Inert with the memory store.
- ``log_request(**fields)``: the request's access line.

This module imports no ``dependency_injector``: the HTTP edge may import it.
"""

from thedata.adapters.observability import log_request
from thedata.adapters.postgres.handoff import handing_on, request_scope

__all__ = ["handing_on", "log_request", "request_scope"]
