"""Secrets never reach the log: redaction anywhere in an event, and retries without arguments."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
import stamina
import structlog

from tests.secrets import ring
from thedata.adapters.observability import REDACTED, redact
from thedata.adapters.observability.redaction import KNOWN_SECRETS, TOO_DEEP
from thedata.adapters.secrets import SecretCipher


def test_credential_fields_are_masked_at_any_depth() -> None:
    """password, token, authorization … are masked in nested dicts and lists alike."""
    event = {
        "event": "connecting",
        "config": {"host": "db", "password": "pw-1234", "nested": [{"api_key": "k-5678"}]},
        "Authorization": "Bearer abc",
    }
    redacted = redact(event)
    assert redacted["config"]["password"] == REDACTED
    assert redacted["config"]["nested"][0]["api_key"] == REDACTED
    assert redacted["Authorization"] == REDACTED
    assert redacted["config"]["host"] == "db"


def test_our_credentials_and_url_passwords_are_masked_inside_text() -> None:
    """A token or key quoted in a message, or a password in a URL, does not survive."""
    token = "tdt_" + "A" * 49
    text = f"refused {token} for postgresql://app:s3cr3t@db:5432/x"
    masked = redact(text)
    assert token not in masked
    assert "s3cr3t" not in masked
    assert "postgresql://app:" in masked


def test_values_the_store_handled_are_masked_wherever_they_appear(log_lines: io.StringIO) -> None:
    """A secret opened by the cipher is masked even in a free-text message and an exception."""
    cipher = SecretCipher(ring(1), on_plaintext=KNOWN_SECRETS.remember)
    org = uuid.uuid4()
    value = cipher.open(org, "db/password", cipher.seal(org, "db/password", b"Xq9-unique-pw"))
    log = structlog.get_logger("test")
    log.info(f"dsn is host=db password={value.decode()}")
    try:
        raise ConnectionError("login failed for Xq9-unique-pw")
    except ConnectionError:
        log.exception("connect failed")
    output = log_lines.getvalue()
    assert "Xq9-unique-pw" not in output
    assert output.count(REDACTED) >= 2


def test_a_failing_retried_call_never_logs_its_secret_argument(log_lines: io.StringIO) -> None:
    """stamina's retries are logged with what failed and when, not with the call's arguments."""
    cipher = SecretCipher(ring(1), on_plaintext=KNOWN_SECRETS.remember)
    org = uuid.uuid4()
    password = cipher.open(org, "p", cipher.seal(org, "p", b"Rt7-retried-pw")).decode()
    attempts = []

    @stamina.retry(on=ConnectionError, attempts=3)
    def connect(host: str, password: str) -> None:
        attempts.append(host)
        raise ConnectionError(f"cannot reach {host}")

    with stamina.set_testing(True, attempts=3), pytest.raises(ConnectionError):
        connect("db.internal", password=password)
    output = log_lines.getvalue()
    assert len(attempts) == 3
    assert output.count("retry scheduled") == 2
    assert "Rt7-retried-pw" not in output
    assert "connect" in output  # the retried callable is still named


def test_a_value_nested_deeper_than_the_limit_is_cut_not_a_crash() -> None:
    """An event holding a structure 10,000 levels deep is masked below the limit, never raising."""
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = {"level": [deep]}
    redacted = redact({"event": "deep", "value": deep, "password": "hunter22"})
    assert redacted["password"] == REDACTED
    cursor, depth = redacted["value"], 0
    while not isinstance(cursor, str):
        cursor, depth = cursor["level"] if isinstance(cursor, dict) else cursor[0], depth + 1
    assert cursor == TOO_DEEP
    assert depth < 100
