"""The service's Prometheus metrics: what every process records, and the text a scrape reads.

One registry of our own (a host program's default registry is left alone). Under
``thedata serve --workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start: each process then keeps its values in files there, and a scrape of
any of them adds up all of them (``prometheus_client``'s multiprocess mode).

Labels are bounded by construction: an HTTP method outside the standard ones is
``other``, a request no route matched is ``unmatched``, a status is its class
(``2xx``); no id, raw path or organization is ever a label.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import platform
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client reads it once, when first imported, and then writes every value to a
# file there. One naming a folder that is gone (left in a shell by an earlier `serve
# --workers N`, which makes the folder for its own processes and removes it at exit)
# would stop every command at its first metric: this process keeps its metrics in memory.
if not Path(os.environ.get(MULTIPROCESS_DIRECTORY) or ".").is_dir():
    del os.environ[MULTIPROCESS_DIRECTORY]

import structlog  # noqa: E402 - after the environment is mended
from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as _multiprocess  # noqa: E402

from thedata.adapters.observability.next_turn import NextTurn  # noqa: E402

log = structlog.get_logger("thedata.metrics")
# the text format every Prometheus reads (our names need none of 1.0.0's escaping); the
# charset is left for the HTTP framework to add
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"

REGISTRY = CollectorRegistry(auto_describe=True)

# The latency objectives the alerts hold the API to (deploy/monitoring) are bucket bounds,
# so that the share of requests under them is exact: 250 ms and 1 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HTTP_REQUESTS = Counter(
    "thedata_http_requests",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status_class"],
    registry=REGISTRY,
)
_HTTP_DURATION = Histogram(
    "thedata_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
UNMATCHED_ROUTE = "unmatched"

_RequestSeries = tuple[Callable[[], None], Callable[[float], None]]
# one entry per method, route and status class actually seen: a bounded set, since
# each part is (see ``observe_request``)
_request_series: dict[tuple[str, str | None, int], _RequestSeries] = {}


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Count one answered request and its duration, at the event loop's next turn with the
    others of that turn (a scrape counts them first): recorded as each request ended, the
    metrics cost a request to ``/health/live`` a tenth of its CPU under load."""
    _answered.append((method, route, status, seconds))
    _RECORD_SOON.soon()


def record_answered_requests() -> None:
    """Record now the requests ``observe_request`` was told of."""
    answered = _answered
    series = _request_series
    while True:
        try:
            method, route, status, seconds = answered.popleft()
        except IndexError:  # drained (by another thread too, perhaps)
            return
        if method not in _METHODS:
            method = "other"
        key = (method, route, status // 100)
        try:
            count, observe = series[key]
        except KeyError:
            count, observe = series.setdefault(key, _series_for(method, route, status))
        count()
        observe(seconds)


# appends and pops of a deque are atomic: a thread without a loop may record at once
_answered: deque[tuple[str, str | None, int, float]] = deque()
_RECORD_SOON = NextTurn(record_answered_requests)


def _forget_answered() -> None:  # in a forked child: the parent records what it was told
    _answered.clear()
    _RECORD_SOON.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_answered)
atexit.register(record_answered_requests)


def _series_for(method: str, route: str | None, status: int) -> _RequestSeries:
    route_label = route or UNMATCHED_ROUTE
    status_class = _STATUS_CLASSES.get(status // 100, "other")
    counter = _HTTP_REQUESTS.labels(method=method, route=route_label, status_class=status_class)
    histogram = _HTTP_DURATION.labels(method=method, route=route_label)
    return counter.inc, histogram.observe


_POOL_CONNECTIONS = Gauge(
    "thedata_db_pool_connections",
    "Connections the database pool holds, by state (idle or in use).",
    ["state"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
_POOL_MAX = Gauge(
    "thedata_db_pool_max_connections",
    "Connections the database pool may open.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
_POOL_WAITING = Gauge(
    "thedata_db_pool_waiting_requests",
    "Requests waiting for a connection from the database pool.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
_POOL_ACQUIRES = Counter(
    "thedata_db_pool_acquires",
    "Connections taken from the database pool.",
    registry=REGISTRY,
)
_POOL_WAIT = Counter(
    "thedata_db_pool_acquire_wait_seconds",
    "Time spent waiting for a connection from the database pool (requests that queued).",
    registry=REGISTRY,
)
_POOL_TIMEOUTS = Counter(
    "thedata_db_pool_acquire_timeouts",
    "Requests for a connection that the database pool refused or timed out.",
    registry=REGISTRY,
)
_POOL_LOST = Counter(
    "thedata_db_connections_lost",
    "Pooled connections found broken and replaced.",
    registry=REGISTRY,
)

# psycopg_pool's counters (from the pool's start), and the metric each one's gains add to
_POOL_COUNTERS: dict[str, tuple[Counter, float]] = {
    "requests_num": (_POOL_ACQUIRES, 1.0),
    "requests_wait_ms": (_POOL_WAIT, 0.001),
    "requests_errors": (_POOL_TIMEOUTS, 1.0),
    "connections_lost": (_POOL_LOST, 1.0),
}


def record_pool_stats(stats: Mapping[str, int]) -> None:
    """Record a database pool's state (``psycopg_pool``'s ``get_stats()`` names) and what
    its counters gained since the last call."""
    size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
    _POOL_CONNECTIONS.labels(state="idle").set(available)
    _POOL_CONNECTIONS.labels(state="in_use").set(max(0, size - available))
    _POOL_MAX.set(stats.get("pool_max", 0))
    _POOL_WAITING.set(stats.get("requests_waiting", 0))
    for name, (counter, scale) in _POOL_COUNTERS.items():
        amount = stats.get(name, 0)
        if amount > 0:
            counter.inc(amount * scale)


class PoolSampler:
    """Records a database pool's figures when sampled (see ``sampled_at_scrape``).

    It reads ``get_stats()``, whose counters run from the pool's start, and records what
    they gained since its last look: ``pop_stats()`` would reset them for every other
    reader of the pool's figures.
    """

    def __init__(self, get_stats: Callable[[], Mapping[str, int]]) -> None:
        self._get_stats = get_stats
        self._seen: dict[str, int] = {}

    def __call__(self) -> None:
        """Record the pool's figures now."""
        stats = dict(self._get_stats())
        for name in _POOL_COUNTERS:
            total = stats.get(name, 0)
            # a counter lower than last time was reset (a pop_stats): all of it is new
            gained = total - self._seen.get(name, 0)
            stats[name] = gained if gained >= 0 else total
            self._seen[name] = total
        record_pool_stats(stats)


Sample = Callable[[], None]
_SAMPLES: list[Sample] = []


async def sample_every(sample: Sample, interval: float) -> None:
    """Take ``sample`` now and every ``interval`` seconds until cancelled, and at each
    scrape meanwhile (figures that are read, not counted: a pool's, open breakers)."""
    _SAMPLES.append(sample)
    try:
        while True:
            _take(sample)
            await asyncio.sleep(interval)
    finally:
        _SAMPLES.remove(sample)


def _take(sample: Sample) -> None:
    try:
        sample()
    except Exception:  # the next sample may do better; a scrape must not fail for it
        log.exception("sampling metrics failed", sample=type(sample).__name__)


_RETRIES = Counter(
    "thedata_retries",
    "Operations tried again after a transient failure, by operation and error type.",
    ["operation", "error_type"],
    registry=REGISTRY,
)


def count_retry(operation: str, error: BaseException) -> None:
    """One more try of ``operation`` (a name from the code) after ``error``."""
    _RETRIES.labels(operation=operation, error_type=type(error).__name__).inc()


_BREAKER_TRANSITIONS = Counter(
    "thedata_circuit_breaker_transitions",
    "Changes of data sources' circuit breakers, by data source kind and the state entered.",
    ["kind", "state"],
    registry=REGISTRY,
)
_BREAKERS_OPEN = Gauge(
    "thedata_circuit_breakers_open",
    "Data sources whose circuit breaker is open (refusing calls), by kind.",
    ["kind"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)


def count_breaker_transition(kind: str, after: str) -> None:
    """A data source's breaker entered state ``after``."""
    _BREAKER_TRANSITIONS.labels(kind=kind, state=after).inc()


class BreakerSampler:
    """Records the data sources refused now, by kind, when sampled: read from the breakers
    rather than counted at their changes, since an open breaker closes only at the next
    call, which a quiet or deleted data source never makes."""

    def __init__(self, open_by_kind: Callable[[], Mapping[str, int]]) -> None:
        self._open_by_kind = open_by_kind

    def __call__(self) -> None:
        record_open_breakers(self._open_by_kind())


def record_open_breakers(open_by_kind: Mapping[str, int]) -> None:
    """How many data sources of each kind refuse calls now (kinds seen before and now
    without an open breaker go back to 0)."""
    for kind, count in open_by_kind.items():
        _BREAKERS_OPEN.labels(kind=kind).set(count)
    for kind in _open_kinds - open_by_kind.keys():
        _BREAKERS_OPEN.labels(kind=kind).set(0)
    _open_kinds.update(open_by_kind)


_open_kinds: set[str] = set()


_AUTH_REFUSED = Counter(
    "thedata_authentication_failures",
    "Requests refused for their credentials, by problem code (invalid_credentials: a "
    "sign-in with a wrong email or password).",
    ["code"],
    registry=REGISTRY,
)
_RATE_LIMITED = Counter(
    "thedata_rate_limited_requests",
    "Requests refused by a rate limit (429), by problem code.",
    ["code"],
    registry=REGISTRY,
)


def count_refusal(code: str, *, rate_limited: bool) -> None:
    """A request refused for its credentials or by a rate limit; ``code`` is the problem's
    code (a name from the code, never from the request)."""
    (_RATE_LIMITED if rate_limited else _AUTH_REFUSED).labels(code=code).inc()


_DECRYPT_FAILURES = Counter(
    "thedata_secret_decrypt_failures",
    "Stored secrets that did not decrypt, by reason (unknown_key_version: the key ring lacks "
    "the key that sealed it; failed_authentication: altered, moved or another key).",
    ["reason"],
    registry=REGISTRY,
)


# created at 0, so that the first failure is an increase a rate sees, not a new series
for _reason in ("unknown_key_version", "failed_authentication"):
    _DECRYPT_FAILURES.labels(reason=_reason)


def count_decrypt_failure(reason: str) -> None:
    """A secret did not open, for ``reason`` (a name from the cipher)."""
    _DECRYPT_FAILURES.labels(reason=reason).inc()


_HEALTH = Gauge(
    "thedata_health_check_status",
    "The last readiness verdict on each component: 0 pass, 1 warn, 2 fail (set each time "
    "/health/ready answers).",
    ["component"],
    # the verdict of whichever process answered last: a fail another process gave earlier
    # must not outlive the recovery
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)


def record_readiness(severities: Mapping[str, int]) -> None:
    """The readiness verdict of each component, as its severity (0 pass, 1 warn, 2 fail)."""
    for component, severity in severities.items():
        _HEALTH.labels(component=component).set(severity)


_BUILD_INFO = Gauge(
    "thedata_build_info",
    "Always 1: the running version of the service and of Python.",
    ["version", "python_version"],
    multiprocess_mode="max",
    registry=REGISTRY,
)


def _package_version() -> str:
    try:
        return version("thedata")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


_BUILD_INFO.labels(version=_package_version(), python_version=platform.python_version()).set(1)


def exposition() -> bytes:
    """The text a scrape reads: this process's metrics, or every process's in multiprocess
    mode (less the gauges of processes that ended)."""
    record_answered_requests()
    for sample in list(_SAMPLES):
        _take(sample)
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if not directory:
        return generate_latest(REGISTRY)
    _forget_ended_processes(Path(directory))
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _forget_ended_processes(directory: Path) -> None:
    # A worker that died (uvicorn's supervisor starts another) leaves its live gauges'
    # file behind; nothing tells us when, so a scrape looks for their processes.
    for file in directory.glob("gauge_live*_*.db"):
        pid = file.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not _running(int(pid)):
            _multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Serve this process's metrics over HTTP on ``host:port`` (a thread of its own), for a
    process without an API (``thedata worker``); call what it returns to stop."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def start_multiprocess_directory(root: Path) -> Path:
    """Make a directory under ``root`` where the processes started from now on keep their
    metrics, one per parent process (two servers sharing a home must not add up or empty
    each other's figures), and remove those of parents no longer running."""
    root.mkdir(parents=True, exist_ok=True)
    for earlier in root.glob("parent-*"):
        pid = earlier.name.removeprefix("parent-")
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(earlier, ignore_errors=True)
    directory = root / f"parent-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)  # a pid reused from an earlier run
    directory.mkdir()
    os.environ[MULTIPROCESS_DIRECTORY] = str(directory)
    return directory


_SLOW_STATEMENTS = Histogram(
    "thedata_db_slow_statement_duration_seconds",
    "Statements to the control database at or over THEDATA_DB_SLOW_STATEMENT_SECONDS, by "
    "operation and first table (``SELECT runs``); faster ones are not observed.",
    ["operation", "table"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)


def report_slow_statement(operation: str | None, table: str | None, seconds: float) -> None:
    """A statement that took ``seconds``, at or over the threshold: one log line (a warning:
    slow statements hold requests and connections) and the histogram. Our statements name
    our own tables, so the labels stay few."""
    operation, table = operation or "other", table or "none"
    _SLOW_STATEMENTS.labels(operation=operation, table=table).observe(seconds)
    log.warning(
        "slow database statement",
        operation=operation,
        table=table,
        duration_ms=round(seconds * 1000, 1),
    )
