"""Bearer credentials from the operating system's secure random source."""

from __future__ import annotations

import secrets

from thedata.domain.credentials import (
    PUBLIC_ID_BYTES,
    SECRET_BYTES,
    format_access_token,
    format_api_key,
)


class SecureCredentialGenerator:
    """Access tokens and API keys with 256 bits from ``secrets`` (the OS CSPRNG)."""

    def access_token(self) -> str:
        return format_access_token(secrets.token_bytes(SECRET_BYTES))

    def api_key(self) -> str:
        return format_api_key(
            secrets.token_bytes(PUBLIC_ID_BYTES), secrets.token_bytes(SECRET_BYTES)
        )
