"""Cryptographic adapters: password hashing and credential generation."""

from thedata.adapters.security.credentials import SecureCredentialGenerator
from thedata.adapters.security.passwords import Argon2PasswordHasher

__all__ = ["Argon2PasswordHasher", "SecureCredentialGenerator"]
