"""Every setting of the service, with its type, default and meaning."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

MiB = 1024 * 1024

Seconds = Annotated[float, Meta(gt=0, le=3600)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The validated configuration; read from ``THEDATA_<FIELD>`` variables by ``load_settings``.

    Each field's description is what ``thedata config docs`` prints.
    """

    database_url: Annotated[
        str | None,
        Meta(
            description="libpq URL of the control database (postgresql://user@host:5432/db). "
            "Unset: an embedded PostgreSQL is started in THEDATA_HOME."
        ),
    ] = None
    home: Annotated[
        str,
        Meta(
            min_length=1,
            description="Folder for local state: the embedded database, the generated key file, "
            "and under `serve --workers N` the workers' metrics files (`metrics/`).",
        ),
    ] = ".thedata"
    host: Annotated[str, Meta(min_length=1, description="Address `thedata serve` binds to.")] = (
        "127.0.0.1"
    )
    port: Annotated[int, Meta(ge=1, le=65535, description="Port `thedata serve` listens on.")] = (
        8000
    )
    log_format: Annotated[
        Literal["json", "console"],
        Meta(description="`json`: one JSON object per line; `console`: colored, for people."),
    ] = "json"
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"],
        Meta(description="Lowest level written to the log."),
    ] = "info"
    max_body_bytes: Annotated[
        int,
        Meta(ge=1024, le=64 * MiB, description="Largest request body accepted (bytes); 413 above."),
    ] = MiB
    body_timeout: Annotated[
        Seconds,
        Meta(
            description="Seconds a request's body may pause between two of its pieces; a "
            "client that stops sending is answered 408 and its connection closed."
        ),
    ] = 10.0
    db_pool_min_size: Annotated[
        int, Meta(ge=0, le=100, description="Connections the pool keeps open when idle.")
    ] = 1
    db_pool_max_size: Annotated[
        int, Meta(ge=1, le=1000, description="Most connections one process opens to the database.")
    ] = 10
    db_connect_timeout: Annotated[
        Seconds, Meta(description="Seconds to wait for a new database connection.")
    ] = 5.0
    db_statement_timeout: Annotated[
        Seconds, Meta(description="Seconds after which the database cancels a statement.")
    ] = 30.0
    db_slow_statement_seconds: Annotated[
        Annotated[float, Meta(ge=0, le=3600)],
        Meta(
            description="Statements to the control database taking this long or longer are "
            "logged ('slow database statement') and observed in "
            "thedata_db_slow_statement_duration_seconds; 0 turns this off."
        ),
    ] = 0.5
    db_acquire_timeout: Annotated[
        Seconds,
        Meta(description="Seconds a request waits for a free pooled connection before a 503."),
    ] = 5.0
    db_reconnect_window: Annotated[
        Seconds,
        Meta(
            description="Seconds the pool retries a lost connection, backing off, before it "
            "starts over; bounds how long service lags behind a database that came back."
        ),
    ] = 10.0
    db_startup_timeout: Annotated[
        Annotated[float, Meta(ge=0, le=3600)],
        Meta(description="Seconds start-up keeps retrying a database that is not reachable yet."),
    ] = 30.0
    ready_timeout: Annotated[
        Annotated[float, Meta(gt=0, le=10)],
        Meta(description="Seconds each readiness check may take before it counts as failed."),
    ] = 0.5
    ready_queue_wait: Annotated[
        Annotated[float, Meta(gt=0, le=86400)],
        Meta(
            description="Seconds the longest queued run may wait before readiness warns "
            "(`runs` check; a warning keeps 200: more workers, not a restart, drain a queue)."
        ),
    ] = 300.0
    migrate_on_start: Annotated[
        bool, Meta(description="Apply pending migrations when `thedata serve` starts.")
    ] = True
    shutdown_timeout: Annotated[
        Seconds,
        Meta(description="Seconds a stopping server gives requests in flight to finish."),
    ] = 20.0
    allow_signup: Annotated[
        bool, Meta(description="Let anyone register an account (`POST /v1/auth/register`).")
    ] = True
    access_token_ttl: Annotated[
        Annotated[int, Meta(ge=60, le=90 * 86400)],
        Meta(description="Seconds an access token from sign-in or sign-up stays valid."),
    ] = 86400
    login_attempt_limit: Annotated[
        int,
        Meta(
            ge=1,
            le=1000,
            description="Password attempts (sign-in, or the current password of a password "
            "change) allowed per account from one client address in THEDATA_LOGIN_WINDOW "
            "seconds; beyond it, that address gets 429 with Retry-After for that account only.",
        ),
    ] = 10
    login_account_limit: Annotated[
        int,
        Meta(
            ge=1,
            le=100000,
            description="Password attempts allowed per account from all addresses together in "
            "THEDATA_LOGIN_WINDOW seconds: bounds guessing spread over many addresses; beyond "
            "it the account is closed to everyone until the window ends.",
        ),
    ] = 50
    login_address_limit: Annotated[
        int,
        Meta(
            ge=1,
            le=100000,
            description="Password attempts allowed per client address (an IPv6 /64) over all "
            "accounts in THEDATA_LOGIN_WINDOW seconds: bounds password spraying; set it above "
            "what everyone behind your largest NAT mistypes in a window.",
        ),
    ] = 100
    login_window: Annotated[
        Annotated[int, Meta(ge=1, le=86400)],
        Meta(description="Seconds over which password attempts are counted."),
    ] = 900
    password_hash_memory_kib: Annotated[
        int,
        Meta(
            ge=8,
            le=4 * 1024 * 1024,
            description="Argon2id memory per password hash (KiB); OWASP's minimum is 19456. "
            "Raising it rehashes each password at its next sign-in.",
        ),
    ] = 19456
    password_hash_iterations: Annotated[
        int, Meta(ge=1, le=100, description="Argon2id passes per password hash (OWASP: 2).")
    ] = 2
    client_address_header: Annotated[
        str | None,
        Meta(
            description="Header a trusted proxy puts the client's address in for sign-in "
            "limits (e.g. X-Forwarded-For): the last address over all its lines is the "
            "client, so the proxy must append it (or overwrite the header). Unset: the peer "
            "address, which behind a proxy is the proxy's for every client."
        ),
    ] = None
    secret_keys: Annotated[
        str | None,
        Meta(
            description="The secret key ring: `<version>:<base64 of 32 bytes>` entries, "
            "newest first, comma-separated (`thedata secrets generate-key` makes one). The "
            "newest seals; all open. Unset: THEDATA_SECRET_KEY_FILE, or with the embedded "
            "database a key file generated in THEDATA_HOME."
        ),
    ] = None
    secret_key_file: Annotated[
        str | None,
        Meta(
            description="A file holding the key ring, one entry per line (mode 0600). "
            "Exclusive with THEDATA_SECRET_KEYS."
        ),
    ] = None
    secret_sealing_version: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(
            description="The key version that seals new secrets (it must be in the ring). "
            "Unset: the newest. Set it to the old version while a new key rolls out to every "
            "process, so that none seals with a key the others do not hold yet; unset it once "
            "all hold it, then `thedata secrets rotate-key`."
        ),
    ] = None
    secret_store: Annotated[
        Literal["postgres", "file"],
        Meta(
            description="Where sealed secrets live: `postgres` (the control database; any "
            "number of processes) or `file` (THEDATA_SECRET_FILE; one host)."
        ),
    ] = "postgres"  # noqa: S105 - a store's name, not a secret
    secret_file: Annotated[
        str | None,
        Meta(description="The file store's path. Unset: secrets.json in THEDATA_HOME."),
    ] = None
    data_root: Annotated[
        str | None,
        Meta(
            description="The folder `file` data sources live in, one folder per organization: "
            "an organization's paths are relative to `<data root>/<organization id>/` (`..`, "
            "absolute paths and symlinks leading out are refused). Unset: `data` in THEDATA_HOME."
        ),
    ] = None
    connector_allow_private_networks: Annotated[
        bool,
        Meta(
            description="Let connectors reach loopback, private and shared addresses (127/8, "
            "10/8, 192.168/16, 100.64/10, ...). Off (the default, safe for many tenants): only "
            "globally routable addresses. `./dev serve`, the single-user quick start, turns it "
            "on to reach a database on localhost. Link-local and cloud metadata addresses are "
            "always refused, and so is the service's own database."
        ),
    ] = False
    worker_batch_rows: Annotated[
        Annotated[int, Meta(ge=1, le=10_000_000)],
        Meta(
            description="Rows per batch of an incremental stream; each batch commits with its "
            "cursor, so a crash loses at most one batch of work, never data."
        ),
    ] = 50_000
    worker_stall_timeout: Annotated[
        Seconds,
        Meta(
            description="Seconds a stream may go without a frame or batch moving (a source or "
            "destination that holds its connection and sends nothing) before it fails, "
            "retryably; a read's first query (which may scan a large table) counts too."
        ),
    ] = 600.0
    worker_lease_seconds: Annotated[
        Annotated[int, Meta(ge=5, le=3600)],
        Meta(
            description="Seconds a worker holds a run it claimed; renewed every third of it. A "
            "worker that stops renewing (it died, or paused past it) loses the run to the "
            "reaper, and can no longer finish it nor write its destination."
        ),
    ] = 30
    metrics: Annotated[
        bool,
        Meta(
            description="Count requests and runs in Prometheus metrics and serve them on "
            "`/metrics`; false: no `/metrics`, requests and runs not counted (a deployment "
            "without Prometheus)."
        ),
    ] = True
    worker_metrics_port: Annotated[
        Annotated[int, Meta(ge=1, le=65535)] | None,
        Meta(
            description="Port `thedata worker` serves its Prometheus metrics on (`/metrics`, on "
            "THEDATA_HOST); unset: none. `thedata serve` serves them with the API's."
        ),
    ] = None
    run_retention_days: Annotated[
        Annotated[int, Meta(ge=1, le=3650)],
        Meta(
            description="Days a finished run is kept (shown in the API) before the workers' "
            "housekeeping deletes it."
        ),
    ] = 30
    run_max_attempts: Annotated[
        Annotated[int, Meta(ge=1, le=20)],
        Meta(
            description="Attempts a run gets: a retryable failure or a lost lease queues it "
            "again (after 5 s, doubling, at most 5 minutes) until they are spent."
        ),
    ] = 3
    connector_timeout: Annotated[
        Annotated[float, Meta(gt=0, le=5)],
        Meta(
            description="Seconds a data source check or discovery may take before it fails; "
            "also how long a stream's writer waits for a lock or sits idle in a transaction."
        ),
    ] = 5.0
    breaker_failure_rate: Annotated[
        Annotated[float, Meta(gt=0, le=1)],
        Meta(description="Failure rate (0..1) of recent calls that opens a source's circuit."),
    ] = 0.5
    breaker_minimum_calls: Annotated[
        Annotated[int, Meta(ge=1, le=1000)],
        Meta(description="Calls a circuit must have seen before its failure rate counts."),
    ] = 5
    breaker_window: Annotated[
        Annotated[int, Meta(ge=1, le=1000)],
        Meta(description="How many recent calls the failure rate is taken over."),
    ] = 10
    breaker_open_seconds: Annotated[
        Annotated[float, Meta(gt=0, le=3600)],
        Meta(
            description="Seconds an open circuit refuses calls before it lets trial calls through."
        ),
    ] = 30.0
    breaker_half_open_calls: Annotated[
        Annotated[int, Meta(ge=1, le=100)],
        Meta(description="Trial calls a half-open circuit lets through; all must succeed."),
    ] = 2

    def __post_init__(self) -> None:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError(
                "must not be larger than THEDATA_DB_POOL_MAX_SIZE - at `$.db_pool_min_size`"
            )
        for wider in ("login_account_limit", "login_address_limit"):
            # a wider count below the per-address one would close accounts to everyone first
            if getattr(self, wider) < self.login_attempt_limit:
                raise ValueError(f"must not be below THEDATA_LOGIN_ATTEMPT_LIMIT - at `$.{wider}`")
        if not self.metrics and self.worker_metrics_port is not None:
            raise ValueError(
                "serves metrics, which THEDATA_METRICS=false turns off - at `$.worker_metrics_port`"
            )
        if self.secret_keys is not None and self.secret_key_file is not None:
            raise ValueError(
                "set THEDATA_SECRET_KEYS or THEDATA_SECRET_KEY_FILE, not both - at `$.secret_keys`"
            )

    def __repr__(self) -> str:
        # settings hold the key ring and maybe a database password: never print them
        shown = {
            name: "[REDACTED]" if name in _SECRET_SETTINGS and value is not None else value
            for name, value in msgspec.structs.asdict(self).items()
        }
        return f"Settings({shown})"


_SECRET_SETTINGS = frozenset({"secret_keys", "database_url"})
