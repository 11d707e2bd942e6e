"""Versioned AES-256 keys: from THEDATA_SECRET_KEYS, a key file, or generated for local use.

The text form is one ``<version>:<base64 of 32 bytes>`` per entry, newest
first, separated by commas (in the variable) or lines (in a file, where ``#``
starts a comment). The newest key seals; every key in the ring opens what it
sealed, so a key is retired only after a rotation has moved its secrets off it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from attrs import field, frozen

KEY_BYTES = 32  # AES-256


class KeyRingError(ValueError):
    """The configured keys are unusable; the message says which entry and why."""


def _read_only(keys: Mapping[int, bytes]) -> Mapping[int, bytes]:
    return MappingProxyType(dict(keys))


@frozen
class KeyRing:
    """Keys by version; ``current`` is the newest."""

    keys: Mapping[int, bytes] = field(converter=_read_only)
    current: int

    def __attrs_post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyRingError(f"the current key version {self.current} is not in the ring")

    def __repr__(self) -> str:  # the default would print the keys
        return f"KeyRing(versions={sorted(self.keys, reverse=True)}, current={self.current})"


def encode_key(version: int, key: bytes) -> str:
    """The text form of one entry."""
    return f"{version}:{base64.urlsafe_b64encode(key).decode()}"


def new_key_entry(version: int) -> str:
    """A fresh random key as one entry, for an operator to add to the ring."""
    return encode_key(version, secrets.token_bytes(KEY_BYTES))


def parse_key_ring(text: str, *, source: str = "THEDATA_SECRET_KEYS") -> KeyRing:
    """The ring in ``text``; ``KeyRingError`` naming ``source`` and the bad entry otherwise."""
    # comments run to the end of a line; entries are separated by commas or lines
    entries = [
        entry.strip()
        for line in text.splitlines()
        for entry in line.split("#", 1)[0].split(",")
        if entry.strip()
    ]
    if not entries:
        raise KeyRingError(f"{source}: no keys")
    keys: dict[int, bytes] = {}
    order: list[int] = []
    for position, entry in enumerate(entries, 1):
        version_text, separator, key_text = entry.partition(":")
        where = f"{source}: entry {position}"
        if not separator or not version_text.isdigit() or int(version_text) < 1:
            raise KeyRingError(f"{where}: expected <version>:<base64 key> with a version >= 1")
        version = int(version_text)
        try:
            # either base64 alphabet, padding optional
            standard = key_text.replace("-", "+").replace("_", "/")
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise KeyRingError(f"{where} (version {version}): the key is not base64") from None
        if len(key) != KEY_BYTES:
            raise KeyRingError(
                f"{where} (version {version}): the key is {len(key)} bytes; AES-256 needs 32"
            )
        if version in keys:
            raise KeyRingError(f"{where}: version {version} appears twice")
        keys[version] = key
        order.append(version)
    if order != sorted(order, reverse=True):
        raise KeyRingError(f"{source}: list the keys newest (highest version) first")
    return KeyRing(keys, order[0])


def load_key_file(path: Path) -> KeyRing:
    """The ring in a key file; ``KeyRingError`` if it is missing, readable by others or bad."""
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8")
    except OSError as e:
        raise KeyRingError(f"THEDATA_SECRET_KEY_FILE: cannot read {path}: {e.strerror}") from None
    if mode & 0o077:
        raise KeyRingError(f"THEDATA_SECRET_KEY_FILE: {path} is readable by others; chmod 600 it")
    return parse_key_ring(text, source=f"THEDATA_SECRET_KEY_FILE ({path})")


def create_key_file(path: Path) -> KeyRing:
    """Write a new ring with one random key to ``path`` (0600, never overwriting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = new_key_entry(1)
    # O_EXCL: two processes starting at once must not each write a different key
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write("# theData.io secret keys, newest first. Back this file up.\n")
        file.write(entry + "\n")
        file.flush()
        os.fsync(file.fileno())
    return load_key_file(path)


def add_key_to_file(path: Path) -> int:
    """Put a new newest key at the top of a key file (atomically); its version."""
    ring = load_key_file(path)
    version = max(ring.keys) + 1
    text = path.read_text("utf-8")
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        lines = text.splitlines(keepends=True)
        comments = [line for line in lines if line.startswith("#")]
        rest = [line for line in lines if not line.startswith("#")]
        file.writelines([*comments, new_key_entry(version) + "\n", *rest])
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return version
