"""The deployment's choices about sign-up, sign-in and credentials."""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen


@frozen
class IdentityPolicy:
    """Limits and lifetimes the identity use cases apply; set from configuration."""

    allow_signup: bool = True
    access_token_ttl: timedelta = timedelta(hours=24)
    login_attempt_limit: int = 10
    """Password attempts per account from one client within ``login_window``."""
    login_account_limit: int = 50
    """Password attempts per account from all clients together (bounds distributed guessing)."""
    login_address_limit: int = 100
    """Password attempts per client over all accounts (bounds spraying from one address)."""
    login_window: timedelta = timedelta(minutes=15)
    """How long each of those counts runs; ``password_attempts`` says why these three."""
    known_client_ttl: timedelta = timedelta(days=30)
    """How long a client stays known to an account after a right password from it."""
    api_key_last_used_resolution: timedelta = timedelta(minutes=5)
    """``last_used_at`` is written at most this often per key, not on every request."""
    idempotency_ttl: timedelta = timedelta(hours=24)
