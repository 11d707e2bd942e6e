"""No ambient authority: every libpq parameter a PG* variable or file could fill is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import pq
from psycopg.conninfo import make_conninfo

from tests.conftest import free_port
from thedata.adapters.connectors.postgres import connection_parameters
from thedata.adapters.connectors.postgres.config import TARGET_FIELDS
from thedata.adapters.connectors.postgres.conninfo import MIN_LIBPQ, NO_FILE

# libpq reads PGSERVICE to find a service file, whose entries only fill parameters left unset
CANNOT_BE_SET = {"service"}


def parameters(**changes: object) -> dict[str, str]:
    values: dict[str, object] = {
        "host": "db.example.com",
        "hostaddr": "127.0.0.1",
        "port": free_port(),
        "database": "d",
        "user": "u",
        "password": None,
        "sslmode": "prefer",
        "connect_timeout": 2,
    }
    return connection_parameters(**(values | changes))  # type: ignore[arg-type]


def test_the_bundled_libpq_can_refuse_cleartext_passwords() -> None:
    """require_auth needs libpq 16; the factory refuses to start below it."""
    assert pq.version() >= MIN_LIBPQ


def test_every_parameter_with_an_environment_variable_is_set() -> None:
    """Checked against this libpq's own list, so a libpq that adds a PG* variable fails here."""
    from_environment = {
        option.keyword.decode() for option in pq.Conninfo.get_defaults() if option.envvar
    }
    assert from_environment - CANNOT_BE_SET <= parameters().keys()


def test_files_in_the_home_folder_are_never_read() -> None:
    """~/.pgpass and ~/.postgresql/* are replaced by a path that cannot exist."""
    set_ = parameters()
    for name in ("passfile", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir"):
        assert set_[name] == NO_FILE
    assert not Path(NO_FILE).exists()
    assert parameters(sslmode="verify-full")["sslrootcert"] == "system"
    assert set_["sslcertmode"] == "disable"
    assert set_["gssencmode"] == "disable"


def test_with_a_password_only_scram_without_one_nothing() -> None:
    """The password can only go into a SCRAM exchange; without one no exchange is accepted."""
    assert parameters(password="pw")["require_auth"] == "scram-sha-256"
    assert parameters()["require_auth"] == "none"
    assert parameters()["password"] == ""


@pytest.mark.parametrize("sslmode", ["require", "verify-full"])
def test_a_password_over_mandatory_tls_needs_channel_binding(sslmode: str) -> None:
    """Where TLS is required, SCRAM must be bound to the channel: a man in the middle who ends
    the TLS session cannot relay the exchange (and learn what to crack offline)."""
    assert parameters(password="pw", sslmode=sslmode)["channel_binding"] == "require"
    assert parameters(password="pw", sslmode="prefer")["channel_binding"] == "prefer"


def test_the_sslmode_is_part_of_where_a_source_connects() -> None:
    """Weakening sslmode must drop the stored password, as moving the host does."""
    assert "sslmode" in TARGET_FIELDS


HOSTILE_ENVIRONMENT = {
    "PGPASSWORD": "ambient",
    "PGPASSFILE": "/ambient-pgpass",
    "PGUSER": "postgres",
    "PGDATABASE": "control",
    "PGOPTIONS": "-c search_path=evil",
    "PGAPPNAME": "ambient",
    "PGSSLMODE": "disable",
    "PGSSLCERT": "/ambient.crt",
    "PGSSLKEY": "/ambient.key",
    "PGSSLROOTCERT": "/ambient-root.crt",
    "PGSSLCRL": "/ambient.crl",
    "PGSSLCERTMODE": "require",
    "PGSSLNEGOTIATION": "direct",
    "PGSSLMINPROTOCOLVERSION": "TLSv1",
    "PGREQUIREAUTH": "password",
    "PGCHANNELBINDING": "disable",
    "PGGSSENCMODE": "require",
    "PGKRBSRVNAME": "ambient",
    "PGGSSDELEGATION": "1",
    "PGTARGETSESSIONATTRS": "read-write",
    "PGLOADBALANCEHOSTS": "random",
    "PGCONNECT_TIMEOUT": "600",
    "PGCLIENTENCODING": "LATIN1",
}


def test_the_environment_changes_nothing_libpq_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With hostile PG* variables and HOME, libpq's effective values are exactly ours."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in HOSTILE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    ours = parameters()
    connection = pq.PGconn.connect_start(make_conninfo("", **ours).encode())
    try:
        effective = {
            o.keyword.decode(): (o.val or b"").decode() for o in connection.info if o.keyword
        }
    finally:
        connection.finish()
    assert {name: effective[name] for name in ours} == ours
