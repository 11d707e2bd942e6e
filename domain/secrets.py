"""Secrets: values (passwords, tokens) kept encrypted and named by a reference per organization."""

from __future__ import annotations

import re

from thedata.domain.errors import FieldError, InvalidInput, NotFound

MAX_REFERENCE_LENGTH = 200
# printable, no whitespace: references appear in logs and file keys
_REFERENCE = re.compile(r"[\x21-\x7e]{1,200}")


def check_reference(reference: str) -> str:
    """A secret's name within its organization, like ``data-source/<id>/password``."""
    if not _REFERENCE.fullmatch(reference):
        message = f"must be 1 to {MAX_REFERENCE_LENGTH} printable ASCII characters, no spaces"
        raise InvalidInput("the secret reference is invalid", [FieldError("reference", message)])
    return reference


class SecretNotFound(NotFound):
    """The organization has no secret under this reference."""

    code = "secret_not_found"
