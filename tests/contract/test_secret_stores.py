"""One contract for the secret stores, on PostgreSQL and on a real file; rotation included."""

from __future__ import annotations

import asyncio
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import pool_on
from tests.database import every_value_as_bytes
from tests.secrets import ring
from thedata.adapters.secrets import (
    EncryptedFileSecretStore,
    KeyRing,
    PostgresSecretStore,
    SealedSecret,
    SecretCipher,
)
from thedata.application.errors import SecretUnreadable
from thedata.application.use_cases import RotateSecretKey
from thedata.domain.errors import InvalidInput
from thedata.domain.secrets import SecretNotFound

ORG = uuid.UUID("00000000-0000-7000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-7000-8000-000000000002")
Store = PostgresSecretStore | EncryptedFileSecretStore


class FailingCipher(SecretCipher):
    """A cipher that fails on its ``fail_after + 1``-th reseal: a crash in mid-batch."""

    def __init__(self, *versions: int, fail_after: int) -> None:
        super().__init__(ring(*versions))
        self.left = fail_after

    def reseal(
        self, organization_id: uuid.UUID, reference: str, sealed: SealedSecret
    ) -> SealedSecret:
        if self.left == 0:
            raise RuntimeError("power cut")
        self.left -= 1
        return super().reseal(organization_id, reference, sealed)


class SecretStoreContract(ABC):
    """What every secret store promises; subclasses make stores over one shared backing."""

    @abstractmethod
    def store(self, cipher: SecretCipher) -> Store:
        """A store over the shared backing (table or file), sealing with ``cipher``."""

    @abstractmethod
    async def copy_sealed(
        self, reference: str, to_organization: uuid.UUID, to_reference: str
    ) -> None:
        """Copy ORG's sealed ``reference`` to another slot, as someone with write access could."""

    async def test_a_secret_is_stored_replaced_listed_and_deleted(self) -> None:
        """put/get/references/delete, per organization."""
        store = self.store(SecretCipher(ring(1)))
        await store.put(ORG, "b/password", b"first")
        await store.put(ORG, "b/password", b"second")
        await store.put(ORG, "a/token", b"t0ken")
        await store.put(OTHER, "c/key", b"other's")
        assert await store.get(ORG, "b/password") == b"second"
        assert await store.references(ORG) == ["a/token", "b/password"]
        assert await store.delete(ORG, "b/password")
        assert not await store.delete(ORG, "b/password")
        with pytest.raises(SecretNotFound):
            await store.get(ORG, "b/password")
        assert await store.references(OTHER) == ["c/key"]

    async def test_a_secret_of_one_organization_is_not_found_in_another(self) -> None:
        """References are per organization: the same name elsewhere is another (or no) secret."""
        store = self.store(SecretCipher(ring(1)))
        await store.put(ORG, "db/password", b"mine")
        with pytest.raises(SecretNotFound):
            await store.get(OTHER, "db/password")

    async def test_a_copied_ciphertext_does_not_open_in_its_new_place(self) -> None:
        """Sealed data copied to another organization or reference is refused."""
        store = self.store(SecretCipher(ring(1)))
        await store.put(ORG, "db/password", b"mine")
        await self.copy_sealed("db/password", OTHER, "db/password")
        await self.copy_sealed("db/password", ORG, "db/other")
        with pytest.raises(SecretUnreadable):
            await store.get(OTHER, "db/password")
        with pytest.raises(SecretUnreadable):
            await store.get(ORG, "db/other")

    async def test_invalid_references_are_refused(self) -> None:
        """A reference with spaces or nothing in it is invalid input."""
        store = self.store(SecretCipher(ring(1)))
        for reference in ("", "has space", "x" * 201):
            with pytest.raises(InvalidInput):
                await store.put(ORG, reference, b"v")

    async def test_rotation_moves_every_secret_to_the_newest_key(self) -> None:
        """After rotate-key, 0 secrets are on the old key, which can then leave the ring."""
        old = self.store(SecretCipher(ring(1)))
        for n in range(25):
            await old.put(ORG, f"s/{n}", f"value {n}".encode())
        new = self.store(SecretCipher(ring(2, 1)))
        report = await RotateSecretKey(new)(batch_size=7)
        assert report.reencrypted == 25
        assert dict(report.by_key_version) == {2: 25}
        again = await RotateSecretKey(new)(batch_size=7)
        assert again.reencrypted == 0
        retired = self.store(SecretCipher(ring(2)))
        assert [await retired.get(ORG, f"s/{n}") for n in range(25)] == [
            f"value {n}".encode() for n in range(25)
        ]

    async def test_the_canary_names_each_key_version_whose_secrets_do_not_open(self) -> None:
        """One secret per key version in use is tried: a version missing from the ring or
        holding another key is named, versions that open are not, and an empty store has
        nothing to name."""
        assert await self.store(SecretCipher(ring(1))).unreadable_key_versions() == []
        for version in (1, 2, 3):
            sealing = self.store(SecretCipher(ring(version)))
            for n in range(3):
                await sealing.put(ORG if n % 2 else OTHER, f"v{version}/{n}", b"value")
        assert await self.store(SecretCipher(ring(3, 2, 1))).unreadable_key_versions() == []
        assert await self.store(SecretCipher(ring(3, 1))).unreadable_key_versions() == [2]
        other_key_as_1 = KeyRing({1: bytes([99]) * 32, 3: bytes([3]) * 32}, 3)
        assert await self.store(SecretCipher(other_key_as_1)).unreadable_key_versions() == [1, 2]

    async def test_one_damaged_secret_does_not_make_its_key_version_unreadable(self) -> None:
        """A ciphertext moved to another slot fails there (the decrypt-failure alert's
        business); its key version still opens others, so the canary names only a version
        none of whose secrets open."""
        store = self.store(SecretCipher(ring(1)))
        await store.put(ORG, "a/moved", b"value")
        await self.copy_sealed("a/moved", OTHER, "b/damaged")
        await store.delete(ORG, "a/moved")
        fresh = self.store(SecretCipher(ring(1)))
        assert await fresh.unreadable_key_versions() == [1]  # only the damaged one is left
        await store.put(ORG, "c/fine", b"value")
        assert await self.store(SecretCipher(ring(1))).unreadable_key_versions() == []

    async def test_a_rotation_that_crashes_mid_batch_resumes_and_completes(self) -> None:
        """A failure inside a batch keeps that batch on the old key; running again finishes."""
        old = self.store(SecretCipher(ring(1)))
        for n in range(10):
            await old.put(ORG, f"s/{n}", f"value {n}".encode())
        crashing = self.store(FailingCipher(2, 1, fail_after=6))
        with pytest.raises(RuntimeError, match="power cut"):
            await RotateSecretKey(crashing)(batch_size=4)
        counts = await crashing.count_by_key_version()
        assert counts == {2: 4, 1: 6}  # the first batch committed, the second did not
        report = await RotateSecretKey(self.store(SecretCipher(ring(2, 1))))(batch_size=4)
        assert dict(report.by_key_version) == {2: 10}
        assert await self.store(SecretCipher(ring(2))).get(ORG, "s/9") == b"value 9"

    async def test_readers_keep_working_while_a_rotation_runs(self) -> None:
        """Concurrent readers never fail and always read the right value during rotation."""
        old = self.store(SecretCipher(ring(1)))
        for n in range(40):
            await old.put(ORG, f"s/{n}", f"value {n}".encode())
        new = self.store(SecretCipher(ring(2, 1)))
        done = asyncio.Event()
        reads = 0

        async def reader(offset: int) -> None:
            nonlocal reads
            while not done.is_set():
                n = (reads + offset) % 40
                assert await new.get(ORG, f"s/{n}") == f"value {n}".encode()
                reads += 1

        readers = [asyncio.create_task(reader(k)) for k in range(3)]
        report = await RotateSecretKey(new)(batch_size=5)
        done.set()
        await asyncio.gather(*readers)
        assert dict(report.by_key_version) == {2: 40}
        assert reads > 0

    async def test_concurrent_writers_lose_nothing(self) -> None:
        """Twenty puts from two store instances at once: all twenty are there."""
        first, second = self.store(SecretCipher(ring(1))), self.store(SecretCipher(ring(1)))
        await asyncio.gather(
            *(
                (first if n % 2 else second).put(ORG, f"w/{n:02}", str(n).encode())
                for n in range(20)
            )
        )
        assert await first.references(ORG) == [f"w/{n:02}" for n in range(20)]


class TestEncryptedFileSecretStore(SecretStoreContract):
    """The contract on a real file."""

    @pytest.fixture(autouse=True)
    def _path(self, tmp_path: Path) -> None:
        self.path = tmp_path / "secrets.json"

    def store(self, cipher: SecretCipher) -> Store:
        return EncryptedFileSecretStore(self.path, cipher)

    async def copy_sealed(
        self, reference: str, to_organization: uuid.UUID, to_reference: str
    ) -> None:
        document = json.loads(self.path.read_text())
        entry = document[str(ORG)][reference]
        document.setdefault(str(to_organization), {})[to_reference] = entry
        self.path.write_text(json.dumps(document))

    async def test_the_file_is_private_and_holds_no_plaintext(self) -> None:
        """Mode 0600, and the value appears nowhere in the file, in any encoding we use."""
        await self.store(SecretCipher(ring(1))).put(ORG, "db/password", b"plain-hunter2")
        raw = self.path.read_bytes()
        assert self.path.stat().st_mode & 0o077 == 0
        assert b"plain-hunter2" not in raw
        assert b"cGxhaW4taHVudGVyMg" not in raw  # its base64


@pytest.mark.postgres
class TestPostgresSecretStore(SecretStoreContract):
    """The contract on a real, migrated PostgreSQL database."""

    @pytest.fixture(autouse=True)
    async def _pool(self, migrated_database_url: str) -> AsyncIterator[None]:
        self.url = migrated_database_url
        with psycopg.connect(self.url) as connection:
            for org in (ORG, OTHER):
                connection.execute(
                    "INSERT INTO organizations VALUES (%s, 'Org', %s, now(), now())",
                    (org, f"org-{org.int}"),
                )
        async with pool_on(self.url, max_size=6) as self.pool:
            yield

    def store(self, cipher: SecretCipher) -> Store:
        return PostgresSecretStore(self.pool, cipher)

    async def copy_sealed(
        self, reference: str, to_organization: uuid.UUID, to_reference: str
    ) -> None:
        with psycopg.connect(self.url) as connection:
            connection.execute(
                "INSERT INTO secrets (organization_id, reference, key_version, nonce, ciphertext)"
                " SELECT %s, %s, key_version, nonce, ciphertext FROM secrets"
                " WHERE organization_id = %s AND reference = %s",
                (to_organization, to_reference, ORG, reference),
            )

    async def test_no_table_holds_a_stored_secret_in_plaintext(self) -> None:
        """Every column of every table, as text and as bytes, is free of the stored values."""
        values = [b"pg-pass-4711", "päss wörd ✓".encode(), b"tdk_not_a_real_key_123"]
        store = self.store(SecretCipher(ring(1)))
        for n, value in enumerate(values):
            await store.put(ORG, f"scan/{n}", value)
        dump = every_value_as_bytes(self.url)
        for value in values:
            assert value not in dump
            assert value.hex().encode() not in dump
