"""The committed OpenAPI document is the API: a change to the API shows as a diff of
``docs/openapi.json`` in review, never slips in unseen."""

from __future__ import annotations

import difflib
from pathlib import Path

from thedata.entrypoints.cli.openapi_document import render_openapi_document

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_document_is_what_the_code_serves() -> None:
    """Regenerate with `thedata openapi > docs/openapi.json` and review the diff."""
    served = render_openapi_document()
    committed = SNAPSHOT.read_text()
    if served != committed:
        diff = difflib.unified_diff(
            committed.splitlines(), served.splitlines(), "committed", "served", lineterm="", n=2
        )
        raise AssertionError(
            "the API changed; regenerate docs/openapi.json (`thedata openapi >"
            " docs/openapi.json`) and review it:\n" + "\n".join(list(diff)[:60])
        )


def test_the_document_holds_no_secret_hash_or_internal_field() -> None:
    """Property-level exposure (OWASP API3): no schema names a hash, a key, a ciphertext or
    an internal column; the words a response may use for secrets are only their names."""
    text = SNAPSHOT.read_text().lower()
    for word in ("password_hash", "token_hash", "key_hash", "ciphertext", "nonce", "secret_ref"):
        assert f'"{word}"' not in text, word
