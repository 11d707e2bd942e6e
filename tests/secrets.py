"""Key rings and ciphers for tests."""

from __future__ import annotations

from thedata.adapters.secrets import KeyRing, SecretCipher

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))


def ring(*versions: int) -> KeyRing:
    """A ring of the given versions (newest first), each with a fixed, distinct key."""
    return KeyRing({v: bytes([v]) * 32 for v in versions}, versions[0])


def cipher(*versions: int) -> SecretCipher:
    """A cipher over ``ring(*versions)``."""
    return SecretCipher(ring(*versions))
