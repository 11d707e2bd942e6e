"""psycopg errors while moving a stream, told as ``StreamFailed`` in our own words.

Permanent failures (a privilege, a missing object, a value that does not fit)
are not retryable: running the stream again unchanged would fail the same way.
Lost connections, timeouts, deadlocks and serialization failures are. No
driver text leaves: it may quote the data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from thedata.adapters.connectors.postgres.errors import BUSY, CANCELLED, PRIVILEGE, UNREACHABLE
from thedata.application.ports.streams import StreamFailed

NO_SCHEMA = "the configured schema does not exist"
NO_OBJECT = "a table, column or type the stream needs does not exist (SQLSTATE {})"
BAD_VALUE = "a value does not fit its destination column (SQLSTATE {})"
CONSTRAINT = "a row breaks a constraint of the destination table (SQLSTATE {})"
DEPENDENTS = "other objects depend on the table in a way this change cannot keep (SQLSTATE {})"
CONFLICT = "a concurrent transaction got in the way; the stream may be retried (SQLSTATE {})"
FAILED = "the server answered with an error (SQLSTATE {})"

_TRANSIENT_CLASSES = ("08", "40", "53", "57P", "58")
IDLE = "the destination ended a transaction left idle too long; the stream may be retried"
_TRANSIENT_STATES = {
    "55P03": CONFLICT,  # lock not available
    "55006": CONFLICT,  # object in use
    "25P03": IDLE,  # idle_in_transaction_session_timeout: this worker was paused
    "25P04": IDLE,  # transaction_timeout
}
_PERMANENT_CLASSES = {"22": BAD_VALUE, "23": CONSTRAINT, "2B": DEPENDENTS}
_MISSING = frozenset({"42P01", "42703", "42704", "42883"})  # table, column, object, function


def stream_error(error: psycopg.Error) -> StreamFailed:
    """What ``error`` means for the stream, and whether retrying may help."""
    state = error.sqlstate or ""
    if not state or state.startswith("08"):
        return StreamFailed(UNREACHABLE, retryable=True)
    if state == "42501":
        return StreamFailed(PRIVILEGE)
    if state == "3F000":
        return StreamFailed(NO_SCHEMA)
    if state in _MISSING:
        return StreamFailed(NO_OBJECT.format(state))
    if state == "57014":
        return StreamFailed(CANCELLED, retryable=True)
    if state in _TRANSIENT_STATES:
        return StreamFailed(_TRANSIENT_STATES[state].format(state), retryable=True)
    if state.startswith("40"):
        return StreamFailed(CONFLICT.format(state), retryable=True)
    if state.startswith(_TRANSIENT_CLASSES):
        return StreamFailed(BUSY, retryable=True)
    if state[:2] in _PERMANENT_CLASSES:
        return StreamFailed(_PERMANENT_CLASSES[state[:2]].format(state))
    return StreamFailed(FAILED.format(state))


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn a psycopg error raised inside into ``StreamFailed``, in our words."""
    try:
        yield
    except psycopg.Error as e:
        raise stream_error(e) from None
