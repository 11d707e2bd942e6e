"""The credential format: recognisable, self-checking, and refused when altered."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from thedata.adapters.security import SecureCredentialGenerator
from thedata.domain.credentials import (
    AccessTokenText,
    ApiKeyText,
    format_access_token,
    format_api_key,
    parse_credential,
)

secrets_ = st.binary(min_size=32, max_size=32)
public_ids = st.binary(min_size=8, max_size=8)
BASE62 = string.digits + string.ascii_letters


@given(secret=secrets_)
def test_an_access_token_parses_as_one(secret: bytes) -> None:
    """Every formatted access token is recognised as an access token."""
    token = format_access_token(secret)
    assert token.startswith("tdt_")
    assert parse_credential(token) == AccessTokenText(token)


@given(public=public_ids, secret=secrets_)
def test_an_api_key_parses_with_its_public_id(public: bytes, secret: bytes) -> None:
    """Every formatted key is recognised, and its public id is the part after the prefix."""
    key = format_api_key(public, secret)
    parsed = parse_credential(key)
    assert isinstance(parsed, ApiKeyText)
    assert key.startswith(f"tdk_{parsed.public_id}_")


@given(secret=secrets_, public=public_ids, data=st.data())
def test_any_changed_character_is_detected(
    secret: bytes, public: bytes, data: st.DataObject
) -> None:
    """A typo anywhere (one character replaced) makes the credential unrecognisable."""
    credential = data.draw(
        st.sampled_from([format_access_token(secret), format_api_key(public, secret)])
    )
    position = data.draw(st.integers(min_value=0, max_value=len(credential) - 1))
    replacement = data.draw(
        st.sampled_from(BASE62 + "_").filter(lambda c: c != credential[position])
    )
    altered = credential[:position] + replacement + credential[position + 1 :]
    assert parse_credential(altered) is None


@given(text=st.text(max_size=120))
def test_arbitrary_text_is_never_taken_for_a_credential(text: str) -> None:
    """Random input is refused without error (the checksum makes a false match ~1 in 4e9)."""
    assert parse_credential(text) is None


def test_generated_credentials_are_distinct_and_well_formed() -> None:
    """The generator's credentials parse, and two of them never coincide."""
    generator = SecureCredentialGenerator()
    tokens = {generator.access_token() for _ in range(100)}
    keys = {generator.api_key() for _ in range(100)}
    assert len(tokens) == 100
    assert len(keys) == 100
    assert all(isinstance(parse_credential(t), AccessTokenText) for t in tokens)
    assert all(isinstance(parse_credential(k), ApiKeyText) for k in keys)
