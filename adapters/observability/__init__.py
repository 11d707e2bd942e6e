"""Logs (structlog), and later metrics and traces, for every process of the service."""

from thedata.adapters.observability.logging import (
    LogFormat,
    configure_logging,
    route_to_stdlib_logging,
)

__all__ = ["LogFormat", "configure_logging", "route_to_stdlib_logging"]
