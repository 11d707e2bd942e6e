"""When the Postgres adapter retries, and for how long."""

from __future__ import annotations

import stamina

from thedata.application.errors import ConcurrentUpdate, DatabaseUnavailable

TRANSIENT_ERRORS = (DatabaseUnavailable, ConcurrentUpdate)
"""Port errors that a later attempt of the same idempotent work may not meet."""

retry_transient = stamina.retry(on=TRANSIENT_ERRORS, attempts=5, timeout=10.0, wait_max=2.0)
"""Decorator for idempotent database work: five attempts within ten seconds at most."""
