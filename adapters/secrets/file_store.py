"""Secrets in one encrypted file: for a single host with no shared database."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from thedata.adapters.secrets.cipher import SealedSecret, SecretCipher
from thedata.application.errors import DependencyUnavailable, SecretStoreUnavailable
from thedata.application.ports import StoredSecret
from thedata.application.ports.secrets import CANARIES_PER_KEY_VERSION
from thedata.domain.secrets import SecretNotFound, check_reference

T = TypeVar("T")
# {organization id: {reference: {"key_version", "nonce", "ciphertext", "written_at"}}},
# bytes in base64, times in ISO 8601
Document = dict[str, dict[str, dict[str, Any]]]


def _sealed(entry: Mapping[str, Any]) -> SealedSecret:
    return SealedSecret(
        int(entry["key_version"]),
        base64.b64decode(entry["nonce"]),
        base64.b64decode(entry["ciphertext"]),
    )


def _entry(sealed: SealedSecret) -> dict[str, Any]:
    return {
        "key_version": sealed.key_version,
        "nonce": base64.b64encode(sealed.nonce).decode(),
        "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
        "written_at": datetime.now(UTC).isoformat(),
    }


# entries written before the time was recorded count as old
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class StagedFileSecretWriter:
    """The file store's part in a unit of work, by the fresh-reference protocol.

    A file cannot join the database's transaction, so (see ``SecretWriter``):
    1. ``put`` writes at once, under a reference nothing points at yet;
    2. the unit commits the catalog, which now points at the new reference;
    3. ``committed`` applies the deletes the unit asked for (old values);
    a unit that ends without committing has its puts deleted (``discarded``).
    A crash between the steps leaves only values nothing points at, which
    ``SweepOrphanSecrets`` removes; the catalog never points at a missing value.
    A commit whose outcome is unknown (``in_doubt``) deletes nothing either way:
    whichever values the catalog ended up pointing at are all still there.
    """

    def __init__(self, store: EncryptedFileSecretStore) -> None:
        self._store = store
        self._written: list[tuple[UUID, str]] = []
        self._deleted: list[tuple[UUID, str]] = []

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        self._written.append((organization_id, reference))
        await self._store.put(organization_id, reference, value)

    async def delete(self, organization_id: UUID, reference: str) -> None:
        self._deleted.append((organization_id, reference))

    async def committed(self) -> None:
        deleted, self._deleted, self._written = self._deleted, [], []
        await self._forget(deleted)

    async def discarded(self) -> None:
        written, self._written, self._deleted = self._written, [], []
        await self._forget(written)

    async def in_doubt(self) -> None:
        self._written, self._deleted = [], []  # the sweep removes whichever side lost

    async def _forget(self, secrets: list[tuple[UUID, str]]) -> None:
        for organization_id, reference in secrets:
            # an unreachable file leaves an orphan behind, which the sweep removes later
            with contextlib.suppress(DependencyUnavailable):
                await self._store.delete(organization_id, reference)


class EncryptedFileSecretStore:
    """A JSON file of sealed secrets, safe for several processes on one host.

    Every change holds an exclusive lock (``flock`` on a side file) while it
    reads, changes and rewrites the document, so two writers never lose each
    other's changes; readers take a shared lock. A write goes to a temporary
    file that is fsynced and renamed over the old one, so a crash leaves the old
    file or the new one, never half of either.
    """

    def __init__(self, path: Path, cipher: SecretCipher) -> None:
        self._path, self._cipher = path, cipher
        self._lock_path = path.with_name(path.name + ".lock")
        self._opened: set[int] = set()  # key versions a canary opened (the ring is fixed)

    @property
    def current_key_version(self) -> int:
        return self._cipher.current_key_version

    def joined(self, _connection: object) -> StagedFileSecretWriter:
        """This store's part in a unit of work (the transaction's connection is not used)."""
        return StagedFileSecretWriter(self)

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise SecretStoreUnavailable(f"the secret file cannot be opened: {e.strerror}") from e
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _read(self) -> Document:
        try:
            document: Document = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise SecretStoreUnavailable(f"the secret file cannot be read: {e}") from e
        return document

    def _write(self, document: Document) -> None:
        try:
            descriptor, temporary = tempfile.mkstemp(prefix=".secrets-", dir=self._path.parent)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(document, file, sort_keys=True)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(self._path)
            directory = os.open(self._path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a power cut
            finally:
                os.close(directory)
        except OSError as e:
            raise SecretStoreUnavailable(f"the secret file cannot be written: {e}") from e

    def _change(self, change: Callable[[Document], T]) -> T:
        with self._locked(exclusive=True):
            document = self._read()
            result = change(document)
            self._write(document)
            return result

    def _inspect(self, inspect: Callable[[Document], T]) -> T:
        with self._locked(exclusive=False):
            return inspect(self._read())

    async def put(self, organization_id: UUID, reference: str, value: bytes) -> None:
        sealed = self._cipher.seal(organization_id, check_reference(reference), value)

        def store(document: Document) -> None:
            document.setdefault(str(organization_id), {})[reference] = _entry(sealed)

        await asyncio.to_thread(self._change, store)

    async def get(self, organization_id: UUID, reference: str) -> bytes:
        def find(document: Document) -> dict[str, Any] | None:
            return document.get(str(organization_id), {}).get(reference)

        entry = await asyncio.to_thread(self._inspect, find)
        if entry is None:
            raise SecretNotFound(f"no secret {reference!r}")
        return self._cipher.open(organization_id, reference, _sealed(entry))

    async def delete(self, organization_id: UUID, reference: str) -> bool:
        def remove(document: Document) -> bool:
            secrets = document.get(str(organization_id), {})
            found = secrets.pop(reference, None) is not None
            if not secrets:
                document.pop(str(organization_id), None)
            return found

        return await asyncio.to_thread(self._change, remove)

    async def references(self, organization_id: UUID) -> Sequence[str]:
        def names(document: Document) -> list[str]:
            return sorted(document.get(str(organization_id), {}))

        return await asyncio.to_thread(self._inspect, names)

    async def inventory(self) -> Sequence[StoredSecret]:
        def listing(document: Document) -> list[StoredSecret]:
            return [
                StoredSecret(
                    UUID(organization),
                    reference,
                    datetime.fromisoformat(entry["written_at"])
                    if "written_at" in entry
                    else _LONG_AGO,
                )
                for organization, secrets in sorted(document.items())
                for reference, entry in sorted(secrets.items())
            ]

        return await asyncio.to_thread(self._inspect, listing)

    async def count_by_key_version(self) -> Mapping[int, int]:
        def count(document: Document) -> dict[int, int]:
            counts: dict[int, int] = {}
            for secrets in document.values():
                for entry in secrets.values():
                    version = int(entry["key_version"])
                    counts[version] = counts.get(version, 0) + 1
            return counts

        return await asyncio.to_thread(self._inspect, count)

    async def unreadable_key_versions(self) -> Sequence[int]:
        opened = frozenset(self._opened)

        def canaries(document: Document) -> dict[int, list[tuple[UUID, str, SealedSecret]]]:
            by_version: dict[int, list[tuple[UUID, str, SealedSecret]]] = {}
            for organization, secrets in document.items():
                for reference, entry in secrets.items():
                    version = int(entry["key_version"])
                    if version in opened:
                        continue
                    sampled = by_version.setdefault(version, [])
                    if len(sampled) < CANARIES_PER_KEY_VERSION:  # decoded only if tried
                        sampled.append((UUID(organization), reference, _sealed(entry)))
            return by_version

        unreadable = []
        for version, sampled in sorted((await asyncio.to_thread(self._inspect, canaries)).items()):
            if self._cipher.opens_any(sampled):
                self._opened.add(version)
            else:
                unreadable.append(version)
        return unreadable

    async def reencrypt(self, batch_size: int) -> int:
        current = self._cipher.current_key_version

        def reseal(document: Document) -> int:
            moved = 0
            for organization, secrets in sorted(document.items()):
                for reference, entry in sorted(secrets.items()):
                    if moved == batch_size:
                        return moved
                    if int(entry["key_version"]) != current:
                        fresh = self._cipher.reseal(UUID(organization), reference, _sealed(entry))
                        secrets[reference] = _entry(fresh)
                        moved += 1
            return moved

        return await asyncio.to_thread(self._change, reseal)
