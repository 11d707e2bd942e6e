"""Secrets at rest: the key ring, AES-256-GCM sealing, and the PostgreSQL and file stores."""

from thedata.adapters.secrets.cipher import SealedSecret, SecretCipher, associated_data
from thedata.adapters.secrets.file_store import EncryptedFileSecretStore
from thedata.adapters.secrets.key_ring import (
    KeyRing,
    KeyRingError,
    add_key_to_file,
    create_key_file,
    load_key_file,
    new_key_entry,
    parse_key_ring,
)
from thedata.adapters.secrets.postgres_store import PostgresSecretStore

__all__ = [
    "EncryptedFileSecretStore",
    "KeyRing",
    "KeyRingError",
    "PostgresSecretStore",
    "SealedSecret",
    "SecretCipher",
    "add_key_to_file",
    "associated_data",
    "create_key_file",
    "load_key_file",
    "new_key_entry",
    "parse_key_ring",
]
