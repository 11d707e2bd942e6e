"""Logs (structlog), and later metrics and traces, for every process of the service."""

from thedata.adapters.observability.logging import (
    LogFormat,
    configure_logging,
    flush_logs,
    log_request,
    route_to_stdlib_logging,
)
from thedata.adapters.observability.redaction import (
    KNOWN_SECRETS,
    REDACTED,
    KnownSecrets,
    redact,
    redact_secrets,
    remember_secret,
)
from thedata.adapters.observability.request_context import (
    RequestBinding,
    add_request_id,
    bind_request_id,
    unbind_request_id,
)

__all__ = [
    "KNOWN_SECRETS",
    "REDACTED",
    "KnownSecrets",
    "LogFormat",
    "RequestBinding",
    "add_request_id",
    "bind_request_id",
    "configure_logging",
    "flush_logs",
    "log_request",
    "redact",
    "redact_secrets",
    "remember_secret",
    "route_to_stdlib_logging",
    "unbind_request_id",
]
