"""Logs (structlog), and later metrics and traces, for every process of the service."""

from thedata.adapters.observability.logging import (
    LogFormat,
    configure_logging,
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

__all__ = [
    "KNOWN_SECRETS",
    "REDACTED",
    "KnownSecrets",
    "LogFormat",
    "configure_logging",
    "log_request",
    "redact",
    "redact_secrets",
    "remember_secret",
    "route_to_stdlib_logging",
]
