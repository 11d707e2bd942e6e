"""The server of the service's own control database is never a data source, whatever the
network setting.

Not only the control database: any database of its server, because a session
on a sibling database still reads the server's shared catalogs (``pg_authid``
with the service role's password verifier, say) and, as a superuser, files.
Two checks: before connecting (so no credential is sent), the resolved address
and port are compared with the control server's; after connecting, the
server's identity (its system identifier, which a physical replica shares, else
its start time). The second is the authority: it holds however the address is
spelt (another interface, a proxy, a DNS alias).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from attrs import frozen

from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured

OWN_DATABASE = (
    "this server holds the service's own control database; no database of it can be a data source"
)
UNVERIFIABLE = (
    "cannot verify that this is not the service's own control database: allow the user to "
    "call pg_control_system() or pg_postmaster_start_time(), or use another database name"
)


@frozen
class DatabaseIdentity:
    """Which database of which server a connection reached."""

    database: str
    system_identifier: int | None
    """From ``pg_control_system()``: one per cluster, shared by its physical replicas."""
    started_at: datetime | None
    """``pg_postmaster_start_time()``: a fallback fingerprint when the above is not allowed."""

    def same_server_as(self, other: DatabaseIdentity) -> bool | None:
        """Whether both are on one server (``None``: the server does not let us tell)."""
        if self.system_identifier is not None and other.system_identifier is not None:
            return self.system_identifier == other.system_identifier
        if self.started_at is not None and other.started_at is not None:
            return self.started_at == other.started_at
        return None


async def _value(connection: psycopg.AsyncConnection[Any], query: str) -> Any:
    try:
        row = await (await connection.execute(query)).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return None  # revoked from PUBLIC by the server's administrator
    return row[0] if row else None


async def identity_of(connection: psycopg.AsyncConnection[Any]) -> DatabaseIdentity:
    """The identity of the database ``connection`` (autocommit) is connected to."""
    database = await _value(connection, "SELECT current_database()")
    system_identifier = await _value(
        connection, "SELECT system_identifier FROM pg_control_system()"
    )
    # as seconds since the epoch: a timestamp's text follows the session's DateStyle, which
    # a tenant's role may set to anything
    started = await _value(
        connection, "SELECT extract(epoch FROM pg_postmaster_start_time())::text"
    )
    started_at = datetime.fromtimestamp(float(started), UTC) if started is not None else None
    return DatabaseIdentity(str(database), system_identifier, started_at)


@frozen
class ControlFacts:
    """The control database's identity and where it listens (for the check before connecting)."""

    identity: DatabaseIdentity
    port: int
    addresses: frozenset[str]
    """The addresses its clients reach it at; loopback ones stand for any loopback address."""
    local: bool
    """Whether it runs on this host and listens on TCP (reached over a Unix socket while it
    listens on some address, or over loopback): then any loopback address counts."""


Fetch = Callable[[], Awaitable[ControlFacts]]


class ControlDatabase:
    """Refuses connector targets that are the control database; learns it once, lazily."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._facts: ControlFacts | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def at(cls, conninfo: str, connect_timeout: float) -> ControlDatabase:
        """The control database the service itself connects to with ``conninfo``."""
        return cls(lambda: fetch_facts(conninfo, connect_timeout))

    async def facts(self, *, fresh: bool = False) -> ControlFacts:
        """What is known of the control database (fetched again when ``fresh``)."""
        async with self._lock:
            if self._facts is None or fresh:
                try:
                    self._facts = await self._fetch()
                except (psycopg.Error, OSError):
                    raise ConnectorFailed(
                        "the service cannot reach its own database to verify the data source now"
                    ) from None
            return self._facts

    async def refuse_target(self, address: str, port: int, database: str) -> None:
        """``ConnectorMisconfigured`` before connecting, if this is the control server."""
        facts = await self.facts()
        if port != facts.port:
            return
        resolved = ipaddress.ip_address(address)
        mapped = getattr(resolved, "ipv4_mapped", None)
        if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
            resolved = mapped
        if str(resolved) in facts.addresses or (resolved.is_loopback and facts.local):
            raise ConnectorMisconfigured(OWN_DATABASE)

    async def refuse_identity(self, identity: DatabaseIdentity) -> None:
        """``ConnectorMisconfigured`` after connecting, if ``identity`` is on the control server."""
        facts = await self.facts()
        if identity.system_identifier is None or facts.identity.system_identifier is None:
            facts = await self.facts(fresh=True)  # the start time changes when it restarts
        same = identity.same_server_as(facts.identity)
        if same is None and identity.database == facts.identity.database:
            raise ConnectorMisconfigured(UNVERIFIABLE)
        if same:
            raise ConnectorMisconfigured(OWN_DATABASE)


async def fetch_facts(conninfo: str, connect_timeout: float) -> ControlFacts:
    """Connect as the service does and learn the control database's identity and addresses."""
    async with await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, connect_timeout=max(2, round(connect_timeout))
    ) as connection:
        identity = await identity_of(connection)
        port = int(await _value(connection, "SELECT current_setting('port')"))
        server_address = await _value(connection, "SELECT host(inet_server_addr())")
        listens_on = await _value(connection, "SELECT current_setting('listen_addresses')")
        host, hostaddr = connection.info.host, connection.info.hostaddr
    addresses = {str(server_address)} if server_address else set()
    via_socket = host.startswith(("/", "@"))  # a Unix socket (or an abstract one)
    if hostaddr:
        addresses.add(hostaddr)
    elif not via_socket:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses.update(str(sockaddr[0]).split("%", 1)[0] for *_, sockaddr in infos)
    # over a socket, the server is on this host: its loopback addresses reach it, unless it
    # listens on no TCP address at all (the embedded server), when a database at 127.0.0.1
    # on the same port number is another server
    local = (via_socket and listens_on != "") or any(
        ipaddress.ip_address(a).is_loopback for a in addresses
    )
    return ControlFacts(identity, port, frozenset(addresses), local)
