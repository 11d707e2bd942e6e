"""psycopg errors turned into our own messages: driver text never reaches a client.

Driver text may quote the config (a user name set to a password guess) or the
server's words; only our fixed messages leave this module. Errors after the
connection carry a SQLSTATE. Connection failures do not (psycopg and libpq keep
only the text), so they are classified by libpq's own wording, read here and
never shown, and anything not recognised gets the uniform "could not connect".
"""

from __future__ import annotations

import re

import psycopg

from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.domain.errors import FieldError

# One message for refused, unreachable and timed out, so that with private networks
# allowed a tenant cannot tell a closed port from a filtered one (a port scanner).
UNREACHABLE = (
    "could not connect to the server: it refused the connection, did not answer in time, "
    "or could not be reached"
)
AUTHENTICATION_FAILED = "authentication failed for the configured user"
NO_DATABASE = "the configured database does not exist or does not accept connections"
NOT_ALLOWED = "the configured user may not connect to the configured database"
AUTH_METHOD = (
    "the server asked for an authentication method this service does not use: with a "
    "password only SCRAM-SHA-256, without one none at all"
)
NO_PASSWORD = "the server asks for a password and the data source has none"  # noqa: S105 - a message
CHANNEL_BINDING = "channel binding with the server failed"
TLS_FAILED = "the TLS connection to the server failed (see sslmode)"
BUSY = "the server is starting, stopping or out of connections; try again later"
REFUSED = "the server refused the connection (check the database, user and password)"
PRIVILEGE = "the configured user lacks a privilege this needs"
SCHEMA_MISSING = "the configured schema does not exist"
CANCELLED = "the server cancelled the statement (a time limit)"
DATABASE_ERROR = "the server answered with an error (SQLSTATE {})"

_CLIENT_SIDE = (  # libpq's words (lower case) -> what they mean, most specific first
    ("authentication method requirement", AUTH_METHOD, False),
    ("no password supplied", NO_PASSWORD, False),
    ("channel binding", CHANNEL_BINDING, False),
    ("certificate", TLS_FAILED, False),
    ("ssl", TLS_FAILED, False),
)
_SERVER_SIDE = (  # how the server's FATAL at start-up begins (English; others get REFUSED)
    ("password authentication failed", AUTHENTICATION_FAILED, False),
    ("no pg_hba.conf entry", AUTHENTICATION_FAILED, False),
    ("pg_hba.conf rejects", AUTHENTICATION_FAILED, False),
    ('role "', AUTHENTICATION_FAILED, False),  # does not exist, is not permitted to log in
    ("permission denied for database", NOT_ALLOWED, False),
    ('database "', NO_DATABASE, False),  # does not exist (or does not accept connections)
    ("sorry, too many clients", BUSY, True),
    ("remaining connection slots", BUSY, True),
    ("too many connections", BUSY, True),
    ("the database system is", BUSY, True),  # starting up, shutting down, in recovery
)
# libpq names the server before its reason; the host is the config's, not libpq's words
_SERVER_NAMED = re.compile(r'connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: ')
_FATAL = re.compile(r"\bfatal:\s+")
_FIELDS = {
    AUTHENTICATION_FAILED: "/config/user",
    NO_DATABASE: "/config/database",
    NOT_ALLOWED: "/config/database",
    SCHEMA_MISSING: "/config/schema",
}


def _error(message: str, transient: bool) -> ConnectorFailed | ConnectorMisconfigured:
    if transient:
        return ConnectorFailed(message)
    field = _FIELDS.get(message)
    return ConnectorMisconfigured(message, [FieldError(field, message)] if field else [])


def connection_error(error: psycopg.Error) -> ConnectorFailed | ConnectorMisconfigured:
    """What a failed connection attempt means, in our words."""
    text = _SERVER_NAMED.sub("", str(error)).lower()
    fatal = _FATAL.search(text)
    if fatal:  # the server answered the start-up and refused it
        reason = text[fatal.end() :]
        for start, message, transient in _SERVER_SIDE:
            if reason.startswith(start):
                return _error(message, transient)
        return _error(REFUSED, False)
    for words, message, transient in _CLIENT_SIDE:
        if words in text:
            return _error(message, transient)
    return ConnectorFailed(UNREACHABLE)


def query_error(error: psycopg.Error) -> ConnectorFailed | ConnectorMisconfigured:
    """What an error on an open connection means, by its SQLSTATE."""
    state = error.sqlstate or ""
    if state == "42501":
        return _error(PRIVILEGE, False)
    if state == "3F000":
        return _error(SCHEMA_MISSING, False)
    if state == "57014":
        return ConnectorFailed(CANCELLED)
    if state.startswith(("08", "57P", "53")) or not state:
        return ConnectorFailed(UNREACHABLE if not state or state.startswith("08") else BUSY)
    return ConnectorFailed(DATABASE_ERROR.format(state))
