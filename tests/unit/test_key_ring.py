"""The key ring's text form, key files, and which ring the service starts with."""

from __future__ import annotations

import base64
import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.conftest import make_settings
from thedata.adapters.secrets import (
    KeyRingError,
    SecretCipher,
    add_key_to_file,
    create_key_file,
    load_key_file,
    parse_key_ring,
)
from thedata.adapters.secrets.key_ring import encode_key
from thedata.entrypoints.container import load_key_ring

keys = st.binary(min_size=32, max_size=32)


@given(entries=st.dictionaries(st.integers(1, 10_000), keys, min_size=1, max_size=5))
def test_a_ring_survives_its_text_form(entries: dict[int, bytes]) -> None:
    """Any set of versioned keys, written newest first, parses back to the same ring."""
    text = ",".join(encode_key(v, entries[v]) for v in sorted(entries, reverse=True))
    ring = parse_key_ring(text)
    assert dict(ring.keys) == entries
    assert ring.current == max(entries)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "no keys"),
        ("abc", "expected <version>:<base64 key>"),
        ("0:" + encode_key(1, bytes(32))[2:], "version >= 1"),
        ("1:!!!", "not base64"),
        ("1:" + base64.b64encode(bytes(16)).decode(), "16 bytes; AES-256 needs 32"),
        (encode_key(1, bytes(32)) + "," + encode_key(1, bytes(32)), "appears twice"),
        (
            encode_key(1, bytes(32)) + "," + encode_key(2, bytes(32)),
            "newest (highest version) first",
        ),
    ],
)
def test_a_bad_ring_is_refused_with_the_reason(text: str, complaint: str) -> None:
    """Each mistake is named, so an operator can fix the variable at once."""
    with pytest.raises(KeyRingError, match="THEDATA_SECRET_KEYS") as raised:
        parse_key_ring(text)
    assert complaint in str(raised.value)


def test_the_ring_never_shows_its_keys() -> None:
    """repr() of a ring (in a traceback, say) lists versions only."""
    ring = parse_key_ring(encode_key(1, b"k" * 32))
    assert "azaz" not in repr(ring).lower()
    assert repr(ring) == "KeyRing(versions=[1], current=1)"


def test_a_key_file_is_created_private_and_never_overwritten(tmp_path: Path) -> None:
    """The generated file is 0600; creating it again fails rather than replace the key."""
    path = tmp_path / "home" / "secret-keys"
    ring = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path) == ring
    with pytest.raises(FileExistsError):
        create_key_file(path)


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A world-readable key file is an error that says how to fix it."""
    path = tmp_path / "keys"
    create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        load_key_file(path)


def test_adding_a_key_puts_a_new_newest_version_on_top(tmp_path: Path) -> None:
    """The old keys stay (they still open old secrets); the new one seals from now on."""
    path = tmp_path / "keys"
    first = create_key_file(path)
    assert add_key_to_file(path) == 2
    ring = load_key_file(path)
    assert ring.current == 2
    assert ring.keys[1] == first.keys[1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_external_database_needs_a_configured_ring(tmp_path: Path) -> None:
    """With THEDATA_DATABASE_URL and no keys the service refuses to start."""
    settings = make_settings(database_url="postgresql://db/x", secret_keys=None, home=str(tmp_path))
    with pytest.raises(KeyRingError, match="THEDATA_SECRET_KEYS or THEDATA_SECRET_KEY_FILE"):
        load_key_ring(settings)
    assert list(tmp_path.iterdir()) == []


def test_the_embedded_database_generates_a_ring_once_and_warns(tmp_path: Path) -> None:
    """No keys and no database URL: a key file in THEDATA_HOME, reused on the next start."""
    settings = make_settings(secret_keys=None, home=str(tmp_path))
    with capture_logs() as first_start:
        first = load_key_ring(settings)
    assert (tmp_path / "secret-keys").is_file()
    assert [e["log_level"] for e in first_start] == ["warning"]
    assert "generated a secret key file" in first_start[0]["event"]
    with capture_logs() as second_start:
        assert load_key_ring(settings) == first
    assert second_start == []


def test_a_sealing_version_set_seals_with_it_so_processes_without_the_new_key_open_it(
    tmp_path: Path,
) -> None:
    """A new key rolls out first (in every ring, sealing with the old one), so that a
    process still on the old ring opens what the others seal; by default the newest seals,
    and such a process could not."""
    old, new = encode_key(1, bytes(32)), encode_key(2, bytes(range(32)))
    old_only = SecretCipher(parse_key_ring(old))
    organization = uuid.uuid4()
    rolling_out = load_key_ring(
        make_settings(secret_keys=f"{new},{old}", secret_sealing_version=1, home=str(tmp_path))
    )
    sealed = SecretCipher(rolling_out).seal(organization, "password", b"s3cret")
    assert sealed.key_version == 1
    assert old_only.open(organization, "password", sealed) == b"s3cret"
    newest = load_key_ring(make_settings(secret_keys=f"{new},{old}", home=str(tmp_path)))
    assert SecretCipher(newest).seal(organization, "password", b"s3cret").key_version == 2


def test_a_sealing_version_not_in_the_ring_stops_start_up_naming_the_setting(
    tmp_path: Path,
) -> None:
    """A version the ring does not hold could seal nothing: refused, the setting named."""
    settings = make_settings(
        secret_keys=encode_key(1, bytes(32)), secret_sealing_version=2, home=str(tmp_path)
    )
    with pytest.raises(KeyRingError, match="THEDATA_SECRET_SEALING_VERSION: version 2"):
        load_key_ring(settings)
