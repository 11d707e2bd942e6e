"""Keeping secrets out of logs: a structlog processor, and retry logs without arguments.

What is masked, wherever it appears in an event (nested dicts and lists too):
values of fields named like credentials (``password``, ``token``, ...); our
bearer credentials (``tdt_…``, ``tdk_…``); passwords inside URLs; and every
value the secret store has sealed or opened in this process.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any
from uuid import UUID

from structlog.typing import EventDict, WrappedLogger

from thedata.adapters.observability.known_secrets import (
    MAX_REMEMBERED,
    MIN_SECRET_LENGTH,
    REDACTED,
    KnownSecrets,
)

__all__ = [
    "KNOWN_SECRETS",
    "MAX_REMEMBERED",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "KnownSecrets",
    "redact",
    "redact_secrets",
    "redact_text",
    "remember_secret",
]

SECRET_FIELDS = frozenset(
    {
        "password",
        "current_password",
        "new_password",
        "passphrase",
        "secret",
        "secrets",
        "secret_keys",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "key",
        "authorization",
        "cookie",
        "set_cookie",
        "credentials",
        "private_key",
    }
)
_CREDENTIAL = re.compile(r"td[tk]_[0-9A-Za-z_]{16,}")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@\s/]+@", re.IGNORECASE)


KNOWN_SECRETS = KnownSecrets()
"""The process's registry; the composition root hands its ``remember`` to the secret store."""


def redact_text(text: str) -> str:
    """``text`` with every secret in it masked."""
    # Neither pattern can match without its literal part; asking for that first (in C)
    # spares most strings both regular expressions, a tenth of an access line's cost.
    if "td" in text:
        text = _CREDENTIAL.sub(REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    return KNOWN_SECRETS.mask(text)


@functools.lru_cache(maxsize=4096, typed=True)
def _is_secret_field(name: object) -> bool:
    # events use a few dozen field names over and over; bounded, so hostile keys cannot grow it
    return str(name).lower() in SECRET_FIELDS


# Values whose text is fixed by their type, so it cannot carry a secret (subclasses, which
# may print anything, take the general path).
_TEXTLESS = frozenset({int, float, bool, type(None), UUID, datetime})

TOO_DEEP = "[TOO DEEP]"
# Log events are shallow; data quoted in one (a row, a document) can nest without end, and
# recursing with it would end the log call in a RecursionError.
MAX_DEPTH = 32


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with secrets masked, recursing into mappings and sequences.

    What lies deeper than ``MAX_DEPTH`` levels is replaced by ``TOO_DEEP``:
    never logged unmasked, never a crash.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "replace")
        return REDACTED if redact_text(text) != text else value
    if not isinstance(value, dict | tuple | list | set | frozenset):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        # the common fields (numbers, ids, times, plain text) without a call each: every
        # access line is a dict of a dozen of them
        redacted = {}
        for k, v in value.items():
            if _is_secret_field(k):
                redacted[k] = REDACTED
            elif type(v) in _TEXTLESS:
                redacted[k] = v
            elif type(v) is str:
                redacted[k] = redact_text(v)
            else:
                redacted[k] = redact(v, depth + 1)
        return redacted
    if isinstance(value, tuple):
        return tuple(redact(item, depth + 1) for item in value)
    return [redact(item, depth + 1) for item in value]


def redact_secrets(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """The structlog processor: masks secrets anywhere in the event."""
    redacted: EventDict = redact(event)
    return redacted


def remember_secret(value: bytes | str) -> None:
    """Mask ``value`` in every later log line of this process (``KNOWN_SECRETS.remember``)."""
    KNOWN_SECRETS.remember(value)
