"""A pipeline run through the HTTP API, trigger to succeeded, against the engine alone.

``python -m benchmarks.sync_api [--rows N] [--rounds R] [--poll S]`` starts a
``thedata serve`` (the API and its in-process worker, on loopback, with a
control database of its own: see ``benchmarks.sync_api_service``) and creates
through HTTP a user, an organization, two ``postgres`` data sources (databases
``<--database-prefix>source`` and ``destination`` on the server of
``THEDATA_BENCH_DATABASE_URL``, default the local one at 127.0.0.1:5432) and
two pipelines of the engine benchmark's table ``t`` (``--rows``, 1M): a full
refresh and an incremental one (cursor ``updated_at``, key ``id``). Then, round
by round, in an order reversed every round:

- a full-refresh run through the API: ``POST …/runs``, then ``GET …/runs/{id}``
  every ``--poll`` seconds until it has succeeded;
- the engine alone, the engine benchmark's own PostgreSQL to PostgreSQL full
  refresh in a process of its own (``benchmarks.engine_run``), on the same data;
- the raw pipe ``psql COPY … TO STDOUT | psql COPY … FROM STDIN`` (binary).

Then a run with nothing changed, incremental, through the API and by the engine
alone, alternated: the fixed cost of a run. Beside each API run: the server
process's CPU seconds and peak RSS (polling included), and where its time went
from the run's own timestamps. Databases and processes go at the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.engine import DEFAULT_URL
from benchmarks.engine_run import config_of
from benchmarks.engine_setup import databases, digest, drop, engine, fill, median, pipe
from benchmarks.sync_api_service import FINISHED, Service, control_database, seconds_between
from thedata.adapters.observability import configure_logging

FULL_TABLE, INCREMENTAL_TABLE = "t_api", "t_api_incremental"
CALIBRATION_POLLS = 40


def create_pipelines(service: Service, source: str, destination: str) -> tuple[str, str, str]:
    """The user, organization, data sources and pipelines, through the API: the organization's
    id, the full-refresh pipeline's and the incremental one's."""
    service.token = service.call(
        "POST",
        "/v1/auth/register",
        {"email": "bench@example.com", "password": "benchmark passphrase", "name": "Bench"},
    )["access_token"]
    org = service.call("POST", "/v1/orgs", {"name": "Bench"})["id"]
    ids = [
        service.call(
            "POST",
            f"/v1/orgs/{org}/data-sources",
            {"name": name, "kind": "postgres", "config": config_of(url)},
        )["id"]
        for name, url in (("source", source), ("destination", destination))
    ]
    streams = {
        "full": {"name": "t", "destination": FULL_TABLE, "mode": "full_refresh"},
        "incremental": {
            "name": "t",
            "destination": INCREMENTAL_TABLE,
            "mode": "incremental",
            "cursor_field": "updated_at",
            "primary_key": ["id"],
        },
    }
    pipelines = [
        service.call(
            "POST",
            f"/v1/orgs/{org}/pipelines",
            {"name": name, "source_id": ids[0], "destination_id": ids[1], "streams": [stream]},
        )["id"]
        for name, stream in streams.items()
    ]
    return org, pipelines[0], pipelines[1]


def api_run(service: Service, org: str, pipeline: str, poll: float) -> dict[str, Any]:
    """One run through the API, trigger to succeeded, and what the server spent on it."""
    service.reset_peak_rss()
    cpu = service.cpu_seconds()
    triggered, started = datetime.now(UTC), time.perf_counter()
    run = service.call("POST", f"/v1/orgs/{org}/pipelines/{pipeline}/runs")
    polls = 0
    while run["status"] not in FINISHED:
        time.sleep(poll)
        run = service.call("GET", f"/v1/orgs/{org}/runs/{run['id']}")
        polls += 1
    seconds, seen = time.perf_counter() - started, datetime.now(UTC).isoformat()
    if run["status"] != "succeeded":
        raise SystemExit(f"the run ended {run['status']}: {run['error']}\n{service.log_tail()}")
    return {
        "seconds": seconds,
        "cpu": service.cpu_seconds() - cpu,
        "rss_mib": service.rss_mib(),
        "rows": run["stats"]["rows_written"],
        "polls": polls,
        "claimed": seconds_between(triggered.isoformat(), run["started_at"]),
        "attempt": seconds_between(run["started_at"], run["finished_at"]),
        "seen": seconds_between(run["finished_at"], seen),
    }


def alternate(rounds: int, steps: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each step once a round, in the given order in even rounds and reversed in odd ones."""
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in steps}
    for n in range(rounds):
        names = list(steps) if n % 2 == 0 else list(reversed(steps))
        for name in names:
            measured[name].append(steps[name]())
    return measured


def poll_cost(service: Service, org: str, pipeline: str, poll: float) -> float:
    """The server's CPU seconds per ``GET`` of a run, polled as the runs were."""
    runs = service.call("GET", f"/v1/orgs/{org}/pipelines/{pipeline}/runs")["items"]
    cpu = service.cpu_seconds()
    for _ in range(CALIBRATION_POLLS):
        time.sleep(poll)
        service.call("GET", f"/v1/orgs/{org}/runs/{runs[0]['id']}")
    return (service.cpu_seconds() - cpu) / CALIBRATION_POLLS


def check_rows(measured: list[dict[str, Any]], rows: int, what: str) -> None:
    if any(m["rows"] != rows for m in measured):
        raise SystemExit(f"{what} wrote {[m['rows'] for m in measured]} rows, not {rows:,}")


def check_copies(source: str, destination: str) -> None:
    """Every table the runs wrote holds exactly the source's rows."""
    expected = digest(source, "t")
    for table in ("t_pipe", "t_engine", "t_engine_incremental", FULL_TABLE, INCREMENTAL_TABLE):
        if digest(destination, table) != expected:
            raise SystemExit(f"{table} does not hold the rows of t")


def line(
    label: str, runs: list[dict[str, Any]], engine_s: float, pipe_s: float | None, per_poll: float
) -> str:
    """A row of the table; the polls' share of the server's CPU only for API runs."""
    seconds = median(runs, "seconds")
    polls = f"{median(runs, 'polls') * per_poll:6.2f}" if "polls" in runs[0] else f"{'-':>6}"
    pipe_ratio = f"{seconds / pipe_s:7.2f}" if pipe_s is not None else f"{'-':>7}"
    return (
        f"  {label:<30} {seconds:8.3f} {seconds / engine_s:7.2f} {pipe_ratio}"
        f" {median(runs, 'cpu'):6.2f} {polls} {max(r['rss_mib'] for r in runs):8.0f}"
    )


def breakdown(runs: list[dict[str, Any]]) -> str:
    return (
        f"    trigger → claimed {median(runs, 'claimed'):.3f} s, claimed → finished"
        f" {median(runs, 'attempt'):.3f} s, finished → seen {median(runs, 'seen'):.3f} s;"
        f" {median(runs, 'polls'):.0f} polls"
    )


def report(
    rows: int,
    rounds: int,
    poll: float,
    full: dict[str, list[dict[str, Any]]],
    noop: dict[str, list[dict[str, Any]]],
    rest_mib: float,
    per_poll: float,
) -> None:
    engine_s, pipe_s = median(full["engine"], "seconds"), median(full["pipe"], "seconds")
    print(
        f"pg → pg full refresh, {rows:,} rows (median of {rounds}; API runs polled every"
        f" {poll * 1000:.0f} ms):"
    )
    header = ("seconds", "/engine", "/pipe", "CPU s", "polls", "RSS MiB")
    print(f"  {'':<30} {'{:>8} {:>7} {:>7} {:>6} {:>6} {:>8}'.format(*header)}")
    print(line("raw psql COPY pipe (binary)", full["pipe"], engine_s, pipe_s, per_poll))
    print(line("engine alone", full["engine"], engine_s, pipe_s, per_poll))
    print(line("API run, trigger → succeeded", full["api"], engine_s, pipe_s, per_poll))
    print(breakdown(full["api"]))
    noop_engine = median(noop["engine"], "seconds")
    print(f"incremental, nothing changed (median of {rounds}):")
    print(line("engine alone", noop["engine"], noop_engine, None, per_poll))
    print(line("API run, trigger → succeeded", noop["api"], noop_engine, None, per_poll))
    print(breakdown(noop["api"]))
    overhead = median(full["engine"] + noop["engine"], "overhead")
    print(
        f"  engine alone: its own time in its process (starting the process and importing add"
        f" {overhead:.2f} s); API run: the server process (API and worker in one), whose CPU s"
        f" include the polls (each cost it {per_poll * 1000:.1f} ms: column polls); its RSS at"
        f" rest before the runs: {rest_mib:.0f} MiB; the databases' work is in no column"
    )


def bench(server: str, prefix: str, rows: int, rounds: int, poll: float) -> None:
    names = [prefix + name for name in ("source", "destination")]
    folder = Path(tempfile.mkdtemp(prefix="thedata_bench_sync_"))
    try:
        source, destination = databases(server, names)
        fill(source, destination, rows)
        with control_database(folder) as control_url:
            service = Service(folder, control_url)
            try:
                service.wait_ready()
                org, full_pipeline, incremental_pipeline = create_pipelines(
                    service, source, destination
                )
                rest_mib = service.rss_mib("VmRSS")
                # the first load, which also builds the worker's connectors (once per process)
                check_rows([api_run(service, org, incremental_pipeline, poll)], rows, "first load")
                epochs = itertools.count(1)  # the engine's runs' epochs: they only grow
                full = alternate(
                    rounds,
                    {
                        "pipe": lambda: pipe(source, destination),
                        "engine": lambda: engine(source, destination, "full", next(epochs)),
                        "api": lambda: api_run(service, org, full_pipeline, poll),
                    },
                )
                check_rows(full["engine"] + full["api"], rows, "a full refresh")
                # after the full refreshes: the engine keeps one state row for both modes
                first = engine(
                    source, destination, "incremental", next(epochs), table="t_engine_incremental"
                )
                check_rows([first], rows, "the engine's first load")
                noop = alternate(
                    rounds,
                    {
                        "engine": lambda: engine(
                            source,
                            destination,
                            "incremental",
                            next(epochs),
                            table="t_engine_incremental",
                        ),
                        "api": lambda: api_run(service, org, incremental_pipeline, poll),
                    },
                )
                check_rows(noop["engine"] + noop["api"], 0, "a run with nothing changed")
                check_copies(source, destination)
                per_poll = poll_cost(service, org, incremental_pipeline, poll)
            finally:
                service.stop()
        report(rows, rounds, poll, full, noop, rest_mib, per_poll)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        drop(server, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between GETs of a run")
    parser.add_argument("--database-prefix", default="thedata_bench_sync_")
    args = parser.parse_args()
    configure_logging(log_format="console", level="warning")  # the embedded server's info lines
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.OperationalError:
        print(f"API sync benchmark skipped: no PostgreSQL over TCP at {server}")
        return
    bench(server, args.database_prefix, args.rows, args.rounds, args.poll)


if __name__ == "__main__":
    main()
