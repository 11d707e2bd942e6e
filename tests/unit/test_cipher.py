"""Sealing secrets: round trips, and every kind of tampering refused rather than misread."""

from __future__ import annotations

import uuid

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from tests.secrets import cipher
from thedata.adapters.secrets import KeyRing, SealedSecret, SecretCipher
from thedata.adapters.secrets.cipher import NONCE_BYTES
from thedata.application.errors import SecretUnreadable

ORG = uuid.UUID(int=1)
OTHER_ORG = uuid.UUID(int=2)
REFERENCE = "data-source/1/password"


@given(value=st.binary(max_size=2048))
def test_any_bytes_come_back_unchanged(value: bytes) -> None:
    """Whatever is sealed opens to exactly the same bytes."""
    sealer = cipher(1)
    assert sealer.open(ORG, REFERENCE, sealer.seal(ORG, REFERENCE, value)) == value


@given(text=st.text(max_size=500))
def test_any_text_comes_back_unchanged(text: str) -> None:
    """Text sealed as UTF-8 opens to the same text, whatever its characters."""
    sealer = cipher(1)
    sealed = sealer.seal(ORG, REFERENCE, text.encode())
    assert sealer.open(ORG, REFERENCE, sealed).decode() == text


def test_each_seal_uses_a_fresh_nonce_and_records_the_key_version() -> None:
    """The same value sealed twice looks different; both name the sealing key."""
    sealer = cipher(3, 2)
    first, second = (sealer.seal(ORG, REFERENCE, b"hunter22") for _ in range(2))
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert len(first.nonce) == NONCE_BYTES
    assert first.key_version == second.key_version == 3


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


@given(data=st.data())
def test_a_flipped_bit_anywhere_is_refused(data: st.DataObject) -> None:
    """One bit changed in the nonce, the ciphertext or the tag: unreadable, never other bytes."""
    sealer = cipher(1)
    sealed = sealer.seal(ORG, REFERENCE, b"correct horse battery staple")
    part = data.draw(st.sampled_from(["nonce", "ciphertext", "tag"]))
    if part == "nonce":
        tampered = evolve(sealed, nonce=_flip(sealed.nonce, data.draw(st.integers(0, 95))))
    else:
        body_bits = (len(sealed.ciphertext) - 16) * 8
        low, high = (0, body_bits - 1) if part == "ciphertext" else (body_bits, body_bits + 127)
        bit = data.draw(st.integers(low, high))
        tampered = evolve(sealed, ciphertext=_flip(sealed.ciphertext, bit))
    with pytest.raises(SecretUnreadable):
        sealer.open(ORG, REFERENCE, tampered)


@pytest.mark.parametrize(
    ("organization", "reference"),
    [(OTHER_ORG, REFERENCE), (ORG, "data-source/2/password"), (OTHER_ORG, "x")],
)
def test_a_ciphertext_moved_to_another_owner_is_refused(
    organization: uuid.UUID, reference: str
) -> None:
    """Copied onto another organization's or reference's row, a ciphertext does not open."""
    sealer = cipher(1)
    sealed = sealer.seal(ORG, REFERENCE, b"s3cret-value")
    with pytest.raises(SecretUnreadable, match="does not decrypt"):
        sealer.open(organization, reference, sealed)


def test_a_different_key_under_the_same_version_is_refused() -> None:
    """Opening with a ring whose version 1 is another key fails authentication."""
    sealed = cipher(1).seal(ORG, REFERENCE, b"s3cret-value")
    other = SecretCipher(KeyRing({1: b"x" * 32}, 1))
    with pytest.raises(SecretUnreadable):
        other.open(ORG, REFERENCE, sealed)


def test_an_unknown_key_version_is_refused_by_name() -> None:
    """A secret sealed with a key the ring no longer holds says which version is missing."""
    sealed = cipher(2, 1).seal(ORG, REFERENCE, b"s3cret-value")
    with pytest.raises(SecretUnreadable, match="key version 2"):
        cipher(1).open(ORG, REFERENCE, sealed)


def test_errors_never_carry_the_value() -> None:
    """The refusal names the reference, never the secret (it may end up in a log or a 503)."""
    sealer = cipher(1)
    sealed = sealer.seal(ORG, REFERENCE, b"s3cret-value")
    with pytest.raises(SecretUnreadable) as raised:
        sealer.open(OTHER_ORG, REFERENCE, SealedSecret(1, sealed.nonce, sealed.ciphertext))
    assert "s3cret" not in str(raised.value)


def test_reseal_moves_a_secret_to_the_newest_key() -> None:
    """Resealing with a ring that has a newer key keeps the value and changes the version."""
    sealed = cipher(1).seal(ORG, REFERENCE, b"s3cret-value")
    newer = cipher(2, 1)
    fresh = newer.reseal(ORG, REFERENCE, sealed)
    assert fresh.key_version == 2
    assert cipher(2).open(ORG, REFERENCE, fresh) == b"s3cret-value"


def test_each_secret_that_does_not_open_is_reported_with_why() -> None:
    """For the decrypt-failure count: an altered secret, then one sealed with a key gone."""
    reasons: list[str] = []
    sealed = cipher(2, 1).seal(ORG, REFERENCE, b"s3cret-value")
    ring = KeyRing({1: b"x" * 32}, 1)
    opener = SecretCipher(ring, on_failure=reasons.append)
    with pytest.raises(SecretUnreadable):
        opener.open(ORG, REFERENCE, evolve(sealed, key_version=1))
    with pytest.raises(SecretUnreadable):
        opener.open(ORG, REFERENCE, sealed)
    assert reasons == ["failed_authentication", "unknown_key_version"]
