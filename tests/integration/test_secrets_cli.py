"""``thedata secrets`` and the key ring at start-up, as real processes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TEST_SECRET_KEYS, pool_on
from tests.integration.test_cli import run
from thedata.adapters.secrets import (
    PostgresSecretStore,
    SecretCipher,
    create_key_file,
    load_key_file,
    parse_key_ring,
)
from thedata.adapters.secrets.key_ring import new_key_entry

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_generate_key_prints_an_entry_the_ring_accepts(tmp_path: Path) -> None:
    """The printed line is a valid key entry with the asked version."""
    result = run(["secrets", "generate-key", "--version", "7"], tmp_path)
    assert result.returncode == 0
    assert parse_key_ring(result.stdout.strip()).current == 7


def test_an_external_database_without_keys_does_not_start(
    tmp_path: Path, migrated_database_url: str
) -> None:
    """serve and config check refuse, naming both ways to configure keys, exit 2."""
    for command in (["serve"], ["config", "check"]):
        result = run(
            command, tmp_path, THEDATA_DATABASE_URL=migrated_database_url, THEDATA_SECRET_KEYS=""
        )
        assert result.returncode == 2, result.stderr
        assert "THEDATA_SECRET_KEYS or THEDATA_SECRET_KEY_FILE" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_malformed_key_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    """A key of the wrong length is one line naming THEDATA_SECRET_KEYS, exit 2."""
    result = run(["config", "check"], tmp_path, THEDATA_SECRET_KEYS="1:c2hvcnQ=")
    assert result.returncode == 2
    assert result.stderr.startswith("thedata: invalid configuration: THEDATA_SECRET_KEYS")
    assert "c2hvcnQ" not in result.stderr  # the key itself is not echoed


async def test_rotation_moves_every_secret_and_status_counts_them(
    tmp_path: Path, migrated_database_url: str
) -> None:
    """status before, rotate-key with a new newest key, status after: all on the new version."""
    org = uuid.uuid4()
    with psycopg.connect(migrated_database_url) as connection:
        connection.execute(
            "INSERT INTO organizations VALUES (%s, 'Acme', 'acme', now(), now())", (org,)
        )
    async with pool_on(migrated_database_url) as pool:
        store = PostgresSecretStore(pool, SecretCipher(parse_key_ring(TEST_SECRET_KEYS)))
        for n in range(5):
            await store.put(org, f"s/{n}", b"value")
    database = {"THEDATA_DATABASE_URL": migrated_database_url}
    before = run(["secrets", "status"], tmp_path, **database)
    assert before.stdout.splitlines() == ["key version 1: 5 secrets (newest)"]
    both = f"{new_key_entry(2)},{TEST_SECRET_KEYS}"
    rotated = run(
        ["secrets", "rotate-key", "--batch-size", "2"],
        tmp_path,
        THEDATA_SECRET_KEYS=both,
        THEDATA_LOG_FORMAT="json",
        **database,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 5 secrets" in rotated.stdout
    events = [json.loads(line) for line in rotated.stderr.splitlines() if line.startswith("{")]
    rotation = [e for e in events if e["event"].startswith("secret key rotation")]
    assert [(e["event"], e["secrets_by_key_version"]) for e in rotation] == [
        ("secret key rotation started", {"1": 5}),
        ("secret key rotation finished", {"2": 5}),
    ]
    assert rotation[1]["reencrypted"] == 5
    after = run(["secrets", "status"], tmp_path, THEDATA_SECRET_KEYS=both, **database)
    assert after.stdout.splitlines() == [
        "key version 2: 5 secrets (newest)",
        "key version 1: 0 secrets",
    ]


def test_add_key_grows_the_key_file_then_rotates(
    tmp_path: Path, migrated_database_url: str
) -> None:
    """With a key file, --add-key writes version 2 at the top and rotation uses it."""
    key_file = tmp_path / "keys"
    create_key_file(key_file)
    result = run(
        ["secrets", "rotate-key", "--add-key"],
        tmp_path,
        THEDATA_SECRET_KEYS="",
        THEDATA_SECRET_KEY_FILE=str(key_file),
        THEDATA_DATABASE_URL=migrated_database_url,
    )
    assert result.returncode == 0, result.stderr
    assert f"added key version 2 to {key_file}" in result.stdout
    assert sorted(load_key_file(key_file).keys) == [1, 2]
