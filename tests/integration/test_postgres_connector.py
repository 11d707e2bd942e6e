"""The postgres connector against hostile servers and hostile configs.

A fake server on 127.0.0.1 asks for a password and records every byte it gets;
the real test server plays the control database and a tenant's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import free_port, tcp_endpoint
from tests.fake_postgres import FakePostgres
from tests.faults import Blackhole
from thedata.adapters.connectors import (
    ControlDatabase,
    DatabaseIdentity,
    DefaultConnectorFactory,
    NetworkPolicy,
)
from thedata.adapters.connectors.control_database import OWN_DATABASE, ControlFacts
from thedata.adapters.connectors.postgres import connector as postgres_connector_module
from thedata.adapters.connectors.postgres.errors import (
    AUTH_METHOD,
    AUTHENTICATION_FAILED,
    NO_DATABASE,
    UNREACHABLE,
)
from thedata.adapters.postgres import EmbeddedPostgres
from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.application.ports import Connector
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.errors import InvalidInput

ORG = uuid.uuid4()
PASSWORD = "Owners-Secret-4711"


def factory(
    tmp_path: Path,
    *,
    allow_private: bool = True,
    control: str | ControlDatabase | None = None,
    names: dict[str, Sequence[str]] | None = None,
) -> DefaultConnectorFactory:
    async def resolve(host: str, _port: int) -> Sequence[str]:
        return (names or {})[host]

    policy = NetworkPolicy(allow_private=allow_private, resolver=resolve)
    return DefaultConnectorFactory(tmp_path, policy, 2, control_database=control)


def connector(
    factory: DefaultConnectorFactory, secrets: dict[str, str] | None = None, **config: Any
) -> Connector:
    validated = factory.validate(ORG, DataSourceKind.POSTGRES, config)
    return factory.connector(ORG, DataSourceKind.POSTGRES, validated.config, secrets or {})


@pytest.mark.parametrize("method", ["cleartext", "md5"])
async def test_the_password_is_never_sent_to_a_server_that_asks_for_it_in_clear(
    tmp_path: Path, method: str
) -> None:
    """A server asking for a cleartext or MD5 password gets nothing: only SCRAM may use it."""
    async with FakePostgres(method) as server:
        target = connector(
            factory(tmp_path),
            {"password": PASSWORD},
            host="127.0.0.1",
            port=server.port,
            database="d",
            user="u",
        )
        with pytest.raises(ConnectorMisconfigured) as refused:
            await target.check()
    assert str(refused.value) == AUTH_METHOD
    assert server.connections == 1
    sent = b"".join(server.received)
    assert PASSWORD.encode() not in sent
    assert server.answers == [b""]  # no PasswordMessage: the client hung up


async def test_scram_is_answered_without_the_password_leaving(tmp_path: Path) -> None:
    """Asked for SCRAM-SHA-256, the client starts the exchange; the password stays here."""
    async with FakePostgres("scram") as server:
        target = connector(
            factory(tmp_path),
            {"password": PASSWORD},
            host="127.0.0.1",
            port=server.port,
            database="d",
            user="u",
        )
        with pytest.raises((ConnectorFailed, ConnectorMisconfigured)):
            await target.check()
    sent = b"".join(server.received)
    assert b"SCRAM-SHA-256" in sent  # the SASLInitialResponse: our nonce, never the password
    assert PASSWORD.encode() not in sent


async def test_no_ambient_credential_or_setting_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~/.pgpass, PGPASSWORD, a service file and PG* settings of the server process are ignored."""
    home = tmp_path / "home"
    (home / ".postgresql").mkdir(parents=True)
    async with FakePostgres("cleartext") as server:
        pgpass = home / ".pgpass"
        pgpass.write_text(f"*:*:*:*:ambient-pgpass\n127.0.0.1:{server.port}:*:*:ambient-pgpass\n")
        pgpass.chmod(0o600)
        (home / ".pg_service.conf").write_text(
            "[evil]\npassword=ambient-service\nuser=postgres\ndbname=control\n"
        )
        for name, value in {
            "HOME": str(home),
            "PGPASSWORD": "ambient-env",
            "PGSERVICE": "evil",
            "PGUSER": "postgres",
            "PGDATABASE": "control",
            "PGOPTIONS": "-c search_path=evil",
            "PGAPPNAME": "ambient",
            "PGREQUIREAUTH": "password",
            "PGSSLMODE": "disable",
            "PGGSSENCMODE": "require",
            "PGTARGETSESSIONATTRS": "read-write",
        }.items():
            monkeypatch.setenv(name, value)
        target = connector(
            factory(tmp_path), host="127.0.0.1", port=server.port, database="d", user="u"
        )
        with pytest.raises(ConnectorMisconfigured, match="authentication method"):
            await target.check()
    sent = b"".join(server.received)
    assert b"ambient" not in sent
    assert server.startups == [
        {"user": "u", "database": "d", "application_name": "thedata", "client_encoding": "UTF8"}
    ]


def control_at(port: int, database: str = "control") -> ControlDatabase:
    identity = DatabaseIdentity(database, 7, datetime(2024, 1, 1, tzinfo=UTC))

    async def fetch() -> ControlFacts:
        return ControlFacts(identity, port, frozenset({"127.0.0.1"}), local=True)

    return ControlDatabase(fetch)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "db.internal"]
)
@pytest.mark.parametrize("database", ["control", "postgres", "template1"])
async def test_the_control_server_is_refused_before_any_credential_is_sent(
    tmp_path: Path, host: str, database: str
) -> None:
    """The control server's port on a loopback address of its host, whatever the database:
    no connection at all (a sibling database still reads the server's shared catalogs)."""
    async with FakePostgres("cleartext") as server:
        target = connector(
            factory(tmp_path, control=control_at(server.port), names={"db.internal": ["::1"]}),
            {"password": PASSWORD},
            host=host,
            port=server.port,
            database=database,
            user="postgres",
        )
        with pytest.raises(ConnectorMisconfigured, match="own control database"):
            await target.check()
    assert server.connections == 0


async def test_another_port_of_the_control_host_is_not_refused_beforehand(
    tmp_path: Path,
) -> None:
    """Another server on the control's host is tried (and judged by its identity after)."""
    async with FakePostgres("cleartext") as server:
        target = connector(
            factory(tmp_path, control=control_at(server.port + 1)),
            host="127.0.0.1",
            port=server.port,
            database="tenant",
            user="u",
        )
        with pytest.raises(ConnectorMisconfigured, match="authentication method"):
            await target.check()
    assert server.connections == 1


async def test_a_control_server_on_a_unix_socket_only_leaves_loopback_ports_to_others(
    own_server: EmbeddedPostgres, postgres_server_url: str
) -> None:
    """The embedded control database (as under `./dev serve`) listens on no TCP port: a
    database at 127.0.0.1 on the same port number is another server, not refused before
    connecting (its identity still is checked after). A control server reached over TCP on
    loopback keeps every loopback address of its port refused."""
    socket_only = ControlDatabase.at(own_server.start(), 5)
    facts = await socket_only.facts()
    await socket_only.refuse_target("127.0.0.1", facts.port, "tenant")
    await socket_only.refuse_target("::1", facts.port, "tenant")
    with tcp_endpoint(postgres_server_url) as (host, port, _database, _user):
        over_tcp = ControlDatabase.at(make_conninfo(postgres_server_url, host=host, port=port), 5)
        served_on = (await over_tcp.facts()).port  # the server's own port, behind any proxy
        for address in ("127.0.0.1", "127.0.0.2", "::1"):
            with pytest.raises(ConnectorMisconfigured, match="own control database"):
                await over_tcp.refuse_target(address, served_on, "tenant")


def test_servers_compare_by_cluster_then_start_time() -> None:
    """The system identifier decides (replicas share it), else the start time, else unknown;
    the database does not matter."""
    at = datetime(2024, 1, 1, tzinfo=UTC)
    control = DatabaseIdentity("thedata", 7, at)
    assert control.same_server_as(DatabaseIdentity("thedata", 7, datetime(2025, 1, 1, tzinfo=UTC)))
    assert not control.same_server_as(DatabaseIdentity("thedata", 8, at))
    assert control.same_server_as(DatabaseIdentity("other", 7, at))
    assert control.same_server_as(DatabaseIdentity("thedata", None, at))
    assert not control.same_server_as(DatabaseIdentity("thedata", None, datetime.now(UTC)))
    assert DatabaseIdentity("thedata", None, None).same_server_as(control) is None


@pytest.mark.postgres
@pytest.mark.parametrize("allow_private", [True, False])
async def test_the_control_database_is_refused_after_connecting_however_it_is_reached(
    tmp_path: Path, database_url: str, source_database_url: str, allow_private: bool
) -> None:
    """Through a proxy (another port), the server's identity gives it away, for the control
    database and every other database of its server (``postgres`` reads the shared catalogs);
    another server stays reachable. With private networks off, loopback is refused anyway."""
    connectors = factory(tmp_path, allow_private=allow_private, control=database_url)
    with tcp_endpoint(database_url) as (host, port, database, user):
        own = connector(connectors, host=host, port=port, database=database, user=user)
        with pytest.raises(ConnectorMisconfigured) as refused:
            await own.check()
        with pytest.raises(ConnectorMisconfigured):
            await own.discover()
        sibling = connector(connectors, host=host, port=port, database="postgres", user=user)
        with pytest.raises(ConnectorMisconfigured) as refused_sibling:
            await sibling.check()
        assert str(refused_sibling.value) == str(refused.value)
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        other = connector(connectors, host=host, port=port, database=database, user=user)
        if allow_private:
            assert str(refused.value) == OWN_DATABASE
            await other.check()
        else:
            assert "not reachable from this server" in str(refused.value)
            with pytest.raises(ConnectorMisconfigured, match="not reachable"):
                await other.check()


@pytest.mark.postgres
async def test_messages_never_echo_a_guess_or_a_secret(
    tmp_path: Path, postgres_server_url: str, source_database_url: str
) -> None:
    """A password guess as user or database name: our message shows neither (finding 5)."""
    guess = "Guess-Pw-4711"
    connectors = factory(tmp_path, control=postgres_server_url)
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        for role, name, message in (
            (guess, database, AUTHENTICATION_FAILED),
            (user, guess, NO_DATABASE),
        ):
            target = connector(connectors, host=host, port=port, user=role, database=name)
            with pytest.raises(ConnectorMisconfigured) as failed:
                await target.check()
            assert str(failed.value) == message
            assert guess.lower() not in str(failed.value).lower()
        with_password = connector(
            connectors, {"password": guess}, host=host, port=port, database=database, user=guess
        )
        with pytest.raises(ConnectorMisconfigured) as failed:
            await with_password.check()
        assert guess.lower() not in str(failed.value).lower()


@pytest.mark.postgres
async def test_a_closed_port_and_a_silent_one_read_the_same(tmp_path: Path) -> None:
    """Refused and timed out: one message, so that checks are no port scanner."""
    connectors = factory(tmp_path)
    silent = Blackhole()
    port = await silent.start()
    try:
        messages = []
        for target_port in (free_port(), port):
            with pytest.raises(ConnectorFailed) as failed:
                await connector(
                    connectors, host="127.0.0.1", port=target_port, database="d", user="u"
                ).check()
            messages.append(str(failed.value))
    finally:
        await silent.stop()
    assert messages == [UNREACHABLE, UNREACHABLE]


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example.com", "bad,host"])
async def test_a_host_no_resolver_takes_is_invalid_input_not_a_crash(
    tmp_path: Path, host: str
) -> None:
    """validate() answers InvalidInput on /config/host; a stored one refuses at check time."""
    connectors = factory(tmp_path)
    with pytest.raises(InvalidInput) as raised:
        connectors.validate(
            ORG, DataSourceKind.POSTGRES, {"host": host, "database": "d", "user": "u"}
        )
    assert [e.field for e in raised.value.errors] == ["/config/host"]
    stored = {"host": host, "database": "d", "user": "u", "port": 5432}
    with pytest.raises(ConnectorMisconfigured) as refused:
        await connectors.connector(ORG, DataSourceKind.POSTGRES, stored, {}).check()
    assert refused.value.errors[0].field == "/config/host"


def test_verify_ca_is_refused_with_a_reason(tmp_path: Path) -> None:
    """verify-ca would need a CA file the config cannot name (it used ~/.postgresql/root.crt)."""
    with pytest.raises(InvalidInput) as raised:
        factory(tmp_path).validate(
            ORG,
            DataSourceKind.POSTGRES,
            {"host": "db.example.com", "database": "d", "user": "u", "sslmode": "verify-ca"},
        )
    assert [e.field for e in raised.value.errors] == ["/config/sslmode"]


async def test_psycopg_is_not_asked_to_resolve(tmp_path: Path) -> None:
    """The connection goes to the address the policy allowed (hostaddr), whatever DNS says."""
    async with FakePostgres("cleartext") as server:
        target = connector(
            factory(tmp_path, names={"db.example.com": ["127.0.0.1"]}),
            host="db.example.com",
            port=server.port,
            database="d",
            user="u",
        )
        with pytest.raises(ConnectorMisconfigured):
            await target.check()
    assert server.connections == 1


@pytest.mark.postgres
async def test_a_schema_wider_than_the_discovery_limit_is_refused(
    tmp_path: Path,
    postgres_server_url: str,
    source_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More columns in all than one discovery reports: a clear refusal, not a huge answer."""
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE a (x int, y int)")
        connection.execute("CREATE TABLE b (z int)")
    connectors = factory(tmp_path, control=postgres_server_url)
    with tcp_endpoint(source_database_url) as (host, port, database, user):
        source = connector(connectors, host=host, port=port, database=database, user=user)
        monkeypatch.setattr(postgres_connector_module, "MOST_COLUMNS", 3)
        assert len(await source.discover()) == 2
        monkeypatch.setattr(postgres_connector_module, "MOST_COLUMNS", 2)
        with pytest.raises(ConnectorMisconfigured, match="more than 2 columns"):
            await source.discover()


@pytest.mark.postgres
async def test_a_role_with_an_odd_datestyle_is_checked_not_crashed(
    tmp_path: Path, postgres_server_url: str, source_database_url: str
) -> None:
    """A tenant's role may set any DateStyle: the server's identity is still read, the check
    still answers (a raw driver error here would be a 500)."""
    role = f"odd_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        connection.execute(
            sql.SQL("ALTER ROLE {} SET DateStyle = 'German'").format(sql.Identifier(role))
        )
    try:
        connectors = factory(tmp_path, control=postgres_server_url)
        with tcp_endpoint(source_database_url) as (host, port, database, _):
            await connector(connectors, host=host, port=port, database=database, user=role).check()
    finally:
        with psycopg.connect(source_database_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
