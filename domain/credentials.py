"""The text form of bearer credentials: access tokens and API keys.

Both are opaque, carry 256 random bits, start with a prefix that says what
they are (``tdt_`` access token, ``tdk_`` API key) and end with a CRC32
checksum, so that secret scanners recognise a leaked one and the service
rejects a mistyped one without a database lookup. API keys also carry a short
public id, which is shown in listings and finds the key's row; the rest is
the secret, of which only a hash is stored.
"""

from __future__ import annotations

import hashlib
import string
import zlib
from typing import Final

from attrs import frozen

ACCESS_TOKEN_PREFIX: Final = "tdt_"  # noqa: S105 - a public prefix, not a secret
API_KEY_PREFIX: Final = "tdk_"

SECRET_BYTES: Final = 32  # 256 bits
PUBLIC_ID_BYTES: Final = 8

_ALPHABET: Final = string.digits + string.ascii_letters  # base62: no separators to break a copy
_SECRET_CHARS: Final = 43  # 62**43 > 2**256
_PUBLIC_ID_CHARS: Final = 11  # 62**11 > 2**64
_CHECKSUM_CHARS: Final = 6  # 62**6 > 2**32


def _base62(data: bytes, width: int) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()).to_bytes(4, "big"), _CHECKSUM_CHARS)


_BASE62: Final = frozenset(_ALPHABET)


def _is_base62(text: str, width: int) -> bool:
    # a set of its characters, built in C: every request's credential passes through here
    return len(text) == width and _BASE62.issuperset(text)


def format_access_token(secret: bytes) -> str:
    """The access token for ``SECRET_BYTES`` random bytes."""
    body = ACCESS_TOKEN_PREFIX + _base62(secret, _SECRET_CHARS)
    return body + _checksum(body)


def format_api_key(public_id: bytes, secret: bytes) -> str:
    """The API key for ``PUBLIC_ID_BYTES`` and ``SECRET_BYTES`` random bytes."""
    public = _base62(public_id, _PUBLIC_ID_CHARS)
    body = f"{API_KEY_PREFIX}{public}_{_base62(secret, _SECRET_CHARS)}"
    return body + _checksum(body)


@frozen
class AccessTokenText:
    """A well-formed access token."""

    token: str


@frozen
class ApiKeyText:
    """A well-formed API key and the public id that finds its row."""

    token: str
    public_id: str


def parse_credential(text: str) -> AccessTokenText | ApiKeyText | None:
    """The credential ``text`` is, or ``None`` when it is not one of ours or is corrupted."""
    body, checksum = text[:-_CHECKSUM_CHARS], text[-_CHECKSUM_CHARS:]
    if len(text) <= _CHECKSUM_CHARS or _checksum(body) != checksum:
        return None
    if body.startswith(ACCESS_TOKEN_PREFIX):
        secret = body.removeprefix(ACCESS_TOKEN_PREFIX)
        return AccessTokenText(text) if _is_base62(secret, _SECRET_CHARS) else None
    if body.startswith(API_KEY_PREFIX):
        public, _, secret = body.removeprefix(API_KEY_PREFIX).partition("_")
        if _is_base62(public, _PUBLIC_ID_CHARS) and _is_base62(secret, _SECRET_CHARS):
            return ApiKeyText(text, public_id=public)
    return None


def api_key_display_prefix(public_id: str) -> str:
    """What listings show of a key: enough to recognise it, nothing that authenticates."""
    return f"{API_KEY_PREFIX}{public_id}"


def credential_hash(token: str) -> bytes:
    """What is stored instead of a credential.

    A fast hash is right here: the credential is 256 random bits, so there is
    nothing to brute-force, and every request pays for it.
    """
    return hashlib.sha256(token.encode()).digest()
