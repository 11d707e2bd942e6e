"""Reads ``THEDATA_*`` variables (and an optional ``.env`` file) into ``Settings``."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
from dotenv import dotenv_values
from psycopg.conninfo import conninfo_to_dict

from thedata.adapters.field_errors import split_message
from thedata.entrypoints.config.settings import Settings

ENV_PREFIX = "THEDATA_"
# read by the test suite only, never by the service
_NOT_SETTINGS = ("THEDATA_TEST_",)
_FIELDS = {f.name: f for f in msgspec.structs.fields(Settings)}


class ConfigurationError(Exception):
    """The configuration is unusable; the message is one line naming the variable and the fix."""


def variable_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Validate the configuration, environment first, then ``env_file``, then defaults.

    An empty variable counts as unset. A ``THEDATA_`` variable that names no
    setting is an error, because a misspelt ``THEDATA_DATABSE_URL`` would
    otherwise quietly fall back to the embedded database.
    """
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    raw: dict[str, str] = {}
    for name, value in values.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(_NOT_SETTINGS):
            continue
        field = name.removeprefix(ENV_PREFIX).lower()
        if field not in _FIELDS:
            raise ConfigurationError(_unknown_variable(name))
        if value != "":
            raw[field] = value
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigurationError(_explain(str(e))) from None
    _check_database_url(settings.database_url)
    return settings


def validate_settings(settings: Settings) -> Settings:
    """Check the constraints of settings built in code (``Settings(...)`` does not check them)."""
    try:
        return msgspec.convert(msgspec.structs.asdict(settings), Settings)
    except msgspec.ValidationError as e:
        raise ConfigurationError(_explain(str(e))) from None


def _unknown_variable(name: str) -> str:
    known = [variable_name(f) for f in _FIELDS]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else "; `thedata config docs` lists them all"
    return f"{name}: no such setting{hint}"


def _explain(message: str) -> str:
    reason, location = split_message(message)
    field = location.removeprefix("$.")
    if field not in _FIELDS:  # a whole-struct check (say, the key ring), worded already
        return message
    reason = reason[0].lower() + reason[1:]
    info = msgspec.inspect.type_info(_FIELDS[field].type)
    inner = info.type if isinstance(info, msgspec.inspect.Metadata) else info
    if isinstance(inner, msgspec.inspect.LiteralType):
        reason += "; expected one of " + ", ".join(map(str, inner.values))
    elif isinstance(inner, msgspec.inspect.BoolType):
        reason += "; use true or false"
    return f"{variable_name(field)}: {reason}"


def _check_database_url(url: str | None) -> None:
    if url is None:
        return
    name = variable_name("database_url")
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # psycopg raises ProgrammingError; the reason may quote the password
        raise ConfigurationError(
            f"{name}: not a libpq URL (expected postgresql://user:password@host:5432/database)"
        ) from None
    # libpq only checks the port when connecting; a typo should stop start-up instead
    for port in str(parts.get("port") or "5432").split(","):
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigurationError(f"{name}: the port must be a number from 1 to 65535")
