"""One hardened connection to a ``postgres`` data source, shared by checks, readers and writers.

Every connection goes the same way: the host resolved once through the network
policy, the control database's server refused before any credential is sent
and again by the identity the server reports, libpq given no ambient authority,
TCP keepalives on (a vanished peer is noticed in about a minute), and failures
told in our own words.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from thedata.adapters.connectors.control_database import identity_of
from thedata.adapters.connectors.kind import Environment
from thedata.adapters.connectors.network import ascii_host
from thedata.adapters.connectors.postgres.config import PostgresConfig
from thedata.adapters.connectors.postgres.conninfo import connection_parameters
from thedata.adapters.connectors.postgres.errors import connection_error, query_error

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}
"""TCP keepalives, and how long (ms) sent data may stay unacknowledged: a server or network
that vanished mid-call is noticed in about a minute, instead of the system's hours."""
SERVER_KEEPALIVES = (
    "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; "
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 60000"
)
"""The same on the server's side of a session (what the server holds for a worker whose host
vanished is released), for sessions that hold locks: the writer's."""


def duration(seconds: float) -> str:
    """``seconds`` as a PostgreSQL duration setting (at least 1 ms)."""
    return f"{max(1, round(seconds * 1000))}ms"


async def connect(
    environment: Environment, config: PostgresConfig, password: str | None, *, autocommit: bool
) -> Connection:
    """A connection to the resolved, allowed address of ``config``'s host, never to the
    control database, with no credential but the data source's own."""
    host = ascii_host(config.host)  # validated with the config: this cannot fail
    address = await environment.policy.resolve(host, config.port)
    if environment.control is not None:  # before any credential is sent
        await environment.control.refuse_target(address, config.port, config.database)
    parameters = connection_parameters(
        host=host,
        hostaddr=address,
        port=config.port,
        database=config.database,
        user=config.user,
        password=password,
        sslmode=config.sslmode,
        connect_timeout=environment.timeout,
    )
    try:
        connection = await psycopg.AsyncConnection.connect(
            make_conninfo("", **parameters, **KEEPALIVES), autocommit=autocommit
        )
    except psycopg.Error as e:
        raise connection_error(e) from None
    try:
        if environment.control is not None:
            await environment.control.refuse_identity(await identity_of(connection))
            if not autocommit:  # the identity query opened a transaction: start clean
                await connection.rollback()
    except psycopg.Error as e:
        await connection.close()
        raise query_error(e) from None
    except BaseException:
        await connection.close()
        raise
    return connection
