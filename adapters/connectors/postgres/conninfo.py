"""libpq parameters with no ambient authority: every one is set, none comes from the server.

libpq fills each parameter left unset from a ``PG*`` environment variable, a
service file, ``~/.pgpass`` or ``~/.postgresql/``: the service process's own
credentials and certificates. A data source's connection must carry only what
its config says, so every parameter libpq would take from there is set here
(``service`` cannot be unset, but a service file only fills parameters left
unset, and none is). A test checks this against the bundled libpq's own list.
"""

from __future__ import annotations

from psycopg import pq

# cannot exist: /dev/null is not a directory; libpq treats a missing file as "none"
NO_FILE = "/dev/null/thedata-none"
_TLS_REQUIRED = frozenset({"require", "verify-ca", "verify-full"})
MIN_LIBPQ = 160000  # require_auth and sslcertmode came with libpq 16


def check_libpq() -> None:
    """Refuse to build connectors on a libpq that cannot refuse cleartext passwords."""
    if pq.version() < MIN_LIBPQ:
        raise RuntimeError(
            f"the postgres connector needs libpq 16 or newer (require_auth); found "
            f"{pq.version()}: install psycopg[binary] or a newer libpq"
        )


def known_parameters() -> frozenset[str]:
    """The parameters this libpq understands."""
    return frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())


def connection_parameters(
    *,
    host: str,
    hostaddr: str,
    port: int,
    database: str,
    user: str,
    password: str | None,
    sslmode: str,
    connect_timeout: float,
) -> dict[str, str]:
    """Every parameter of the connection, set from the config or to a safe fixed value."""
    parameters = {
        "host": host,  # kept for TLS certificate checks
        "hostaddr": hostaddr,  # the address the network policy allowed: DNS is not asked again
        "port": str(port),
        "dbname": database,
        "user": user,
        "password": password or "",
        # with a password only SCRAM (never cleartext or MD5: a server we do not trust must
        # not learn it); without one, no authentication exchange at all (nothing ambient)
        "require_auth": "scram-sha-256" if password else "none",
        # where TLS is mandatory SCRAM must be bound to it, so that no one who ends the TLS
        # session in the middle can relay the exchange; elsewhere, whenever the server offers it
        "channel_binding": "require" if password and sslmode in _TLS_REQUIRED else "prefer",
        "passfile": NO_FILE,
        "sslmode": sslmode,
        "sslrootcert": "system" if sslmode == "verify-full" else NO_FILE,
        "sslcrl": NO_FILE,
        "sslcrldir": NO_FILE,
        "sslcert": NO_FILE,
        "sslkey": NO_FILE,
        "sslcertmode": "disable",  # never present a client certificate
        "sslpassword": "",
        "sslsni": "1",
        "sslcompression": "0",
        "sslnegotiation": "postgres",
        "ssl_min_protocol_version": "TLSv1.2",
        "ssl_max_protocol_version": "",
        "gssencmode": "disable",  # GSS would authenticate with the service's Kerberos ticket
        "gssdelegation": "0",
        "krbsrvname": "postgres",
        "gsslib": "",
        "requirepeer": "",
        "options": "",
        "client_encoding": "UTF8",
        "application_name": "thedata",
        "connect_timeout": str(max(2, round(connect_timeout))),  # libpq's minimum is 2 s
        "target_session_attrs": "any",
        "load_balance_hosts": "disable",
        "min_protocol_version": "3.0",
        "max_protocol_version": "3.0",
    }
    known = known_parameters()
    return {name: value for name, value in parameters.items() if name in known}
