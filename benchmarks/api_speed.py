"""The API's hot path against a lean Litestar + msgspec + psycopg-pool app (issue 12).

``python -m benchmarks.api_speed [--rounds 3] [--duration 15] [--connections 64]
[--threads 2] [--sequential 200] [--quick]`` seeds the workload of
``benchmarks.api_speed_seed`` through the service's use cases (once: it is kept
as a template database on ``THEDATA_BENCH_DATABASE_URL``'s server, default
127.0.0.1:5432) and copies it, then:

1. round trips: a ``thedata serve`` and a lean app whose database connections go
   through a counting proxy (``tests.roundtrips``) answer ``--sequential``
   requests of each endpoint one at a time (after 20 to warm up); the frontend
   Sync and Query messages per request are the round trips, Parse the
   statements parsed again. Their answers are compared first: the same JSON.
2. throughput: another ``thedata serve --no-worker`` (one process: the box has
   two cores, shared with wrk and PostgreSQL; JSON access log at info, as in
   production) and lean app, kept up for the whole run, loaded by wrk
   (``--threads`` threads, ``--connections`` connections, ``--duration`` s) endpoint by endpoint,
   the two apps alternated (the order reversed every round), for ``--rounds``
   rounds. After each write load the database is vacuumed and checkpointed, and
   each load starts once the machine's CPUs are nearly idle (up to 30 s, recorded),
   so that what the last one left PostgreSQL to do is not charged to the next app.
   Per run: req/s, p50/p99 from wrk's latency distribution, the server's CPU per
   request (``/proc/<pid>/stat``) and its peak RSS.

Endpoints: ``/health/live``; get a pipeline, list 50, create one (a unique name per
request); get a run, list 50 runs, trigger a run (each pipeline once, over those
without an active run; the benchmark's runs are deleted before and after each
trigger load, so each starts alike and list runs always lists the seeded runs; 202s
and 409s are counted apart). Requests are spread over the
200 organizations, each called by one of its members with a fresh access token.
The table gives medians; a JSON record goes to ``benchmarks/results/``. Compare
ratios within one run: the machine is shared and noisy (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from benchmarks.api_speed_load import (
    add_load_options,
    answer,
    quick_if_asked,
    require_wrk,
    sequential,
    write_requests,
    wrk,
)
from benchmarks.api_speed_report import APPS, summarize, table, write
from benchmarks.api_speed_seed import PREFIX, copy_of, drop, ensure_template
from benchmarks.api_speed_targets import ROOT, Target, lean, service, wait_machine_quiet
from benchmarks.api_speed_workload import (
    ENDPOINTS,
    WRITES,
    Workload,
    forget_triggers,
    load,
    request_lines,
)
from benchmarks.engine import DEFAULT_URL
from tests.roundtrips import CountingProxy, round_trips
from thedata.adapters.observability import configure_logging

WARM_UP = 20


def _revision() -> dict[str, Any]:
    """The commit measured, and the files changed in the tree since (others edit it too)."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    changed = [
        path
        for path in (line[3:] for line in git("status", "--porcelain").splitlines())
        if not path.startswith("benchmarks/")
    ]
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed": changed}


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _answers_differ(service_base: str, lean_base: str, lines: dict[str, list[str]]) -> list[str]:
    """Where the two apps answer one request differently (reads: the whole JSON; writes: the
    status and the fields)."""
    differences = []
    for endpoint, requests in lines.items():
        answers = []
        for n, base in enumerate((service_base, lean_base)):
            # a write each on its own line: the second trigger of one pipeline is a 409
            line = requests[n % len(requests)] if endpoint in WRITES else requests[0]
            status, body = answer(base, line, f"same-{uuid.uuid4().hex[:8]}")
            answers.append((status, msgspec.json.decode(body)))
        (s_status, s_body), (l_status, l_body) = answers
        if endpoint in WRITES:
            same = s_status == l_status and sorted(s_body) == sorted(l_body)
        else:
            same = (s_status, s_body) == (l_status, l_body)
        if not same:
            differences.append(
                f"{endpoint}: service {s_status} {s_body}\n  lean {l_status} {l_body}"
            )
    return differences


def count_round_trips(
    folder: Path, url: str, workload: Workload, lines: dict[str, list[str]], count: int
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Round trips and parses per request, per endpoint and app; and answers that differ."""
    proxy = CountingProxy(url)
    proxy.start()
    apps = {
        "service": service(folder, proxy.url, "service-counted"),
        "lean": lean(folder, proxy.url, "lean-counted"),
    }
    try:
        for target in apps.values():
            target.wait_live()
        forget_triggers(url, workload)
        differences = _answers_differ(apps["service"].base, apps["lean"].base, lines)
        trips: dict[str, dict[str, dict[str, Any]]] = {}
        for endpoint in ENDPOINTS:
            trips[endpoint] = {}
            for app, target in apps.items():
                forget_triggers(url, workload)
                tag = f"rt-{app}-{uuid.uuid4().hex[:8]}"
                sequential(target.base, lines[endpoint], WARM_UP, tag + "w")
                time.sleep(0.2)  # anything the warm-up left in flight
                before = proxy.counts()
                statuses = sequential(target.base, lines[endpoint], count, tag, start=WARM_UP)
                time.sleep(0.2)
                trips_total, parses = round_trips(before, proxy.counts())
                trips[endpoint][app] = {
                    "round_trips": trips_total / count,
                    "parses": parses / count,
                    "sequential_statuses": dict(statuses),
                }
        return trips, differences
    finally:
        for target in apps.values():
            target.stop()
        proxy.stop()


def _one_load(
    target: Target,
    requests: Path,
    endpoint: str,
    args: argparse.Namespace,
    seconds: float,
    tag: str,
) -> dict[str, Any]:
    waited, timed_out = wait_machine_quiet()
    target.reset_peak_rss()
    cpu = target.cpu_seconds()
    result = wrk(
        target.base,
        requests,
        seconds=seconds,
        connections=args.connections,
        threads=args.threads,
        tag=tag,
        statuses=endpoint == "trigger run",
    )
    result["cpu_us_per_request"] = (target.cpu_seconds() - cpu) / max(result["requests"], 1) * 1e6
    result["quiet_wait_s"], result["quiet_wait_timed_out"] = round(waited, 1), timed_out
    result["peak_rss_mib"] = target.peak_rss_mib()
    # what wrk left in flight ends now: not during the next load (nor after its reset)
    target.wait_idle()
    if endpoint == "trigger run":
        accepted, conflicts = result["statuses"].get(202, 0), result["statuses"].get(409, 0)
        result["unexpected"] = result["requests"] - accepted - conflicts
    else:
        accepted, conflicts = result["requests"] - result["non_2xx"], 0
        result["unexpected"] = result["non_2xx"]
    result["ok_rps"] = accepted / result["seconds"]
    result["conflict_rps"] = conflicts / result["seconds"]
    return result


def settle_database(url: str) -> None:
    """Vacuum and checkpoint now what a write load left: autovacuum (a minute's nap here)
    and the checkpointer would otherwise do it during a later load, of either app."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        connection.execute("CHECKPOINT")


def measure(
    folder: Path,
    url: str,
    workload: Workload,
    files: dict[str, Path],
    args: argparse.Namespace,
    progress: Callable[[str], None],
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every endpoint loaded on both apps, alternated, round after round."""
    apps = {"service": service(folder, url), "lean": lean(folder, url)}
    measured: dict[str, dict[str, list[dict[str, Any]]]] = {
        e: {a: [] for a in APPS} for e in ENDPOINTS
    }
    try:
        for target in apps.values():
            target.wait_live()
        run_id = uuid.uuid4().hex[:6]
        for endpoint in ENDPOINTS:  # warm-up: imports, pools grown, statements prepared
            for app, target in apps.items():
                forget_triggers(url, workload)
                _one_load(target, files[endpoint], endpoint, args, args.warm_up, f"w{run_id}{app}")
        forget_triggers(url, workload)
        settle_database(url)
        for number in range(args.rounds):
            for endpoint in ENDPOINTS:
                order = APPS if number % 2 == 0 else tuple(reversed(APPS))
                for app in order:
                    if endpoint == "trigger run":
                        forget_triggers(url, workload)
                    tag = f"r{run_id}{number}{app}"
                    result = _one_load(
                        apps[app], files[endpoint], endpoint, args, args.duration, tag
                    )
                    if endpoint == "trigger run":
                        # what the next loads see is the seed: list runs must not list
                        # these queued runs in one round and the seeded ones in the next
                        forget_triggers(url, workload)
                    if endpoint in WRITES:
                        settle_database(url)
                    measured[endpoint][app].append(result)
                    cpu = result["cpu_us_per_request"]
                    progress(
                        f"round {number + 1} {endpoint:<16} {app:<8} {result['ok_rps']:8,.0f} req/s"
                        f"  p99 {result['p99_ms']:6.1f} ms  {cpu:6,.0f} µs CPU"
                        f"  (load {_load_average()})"
                    )
    finally:
        for target in apps.values():
            target.stop()
    return measured


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_options(parser)
    parser.add_argument("--sequential", type=int, default=200, help="requests counted per endpoint")
    args = quick_if_asked(parser.parse_args())
    if args.quick:
        args.sequential = 50
    return args


def main() -> None:
    args = _arguments()
    require_wrk()
    configure_logging(log_format="console", level="warning")
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    folder = Path(tempfile.mkdtemp(prefix="thedata_bench_api_"))
    record: dict[str, Any] = {
        "arguments": vars(args),
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "revision": _revision(),
    }
    print(
        f"commit {record['revision']['commit']}"
        f" ({len(record['revision']['changed'])} files outside benchmarks/ changed since),"
        f" python {record['python']}, {record['cores']} cores, load average {_load_average()};"
        f" one API process per app (two cores, shared with wrk and PostgreSQL)",
        flush=True,
    )
    template, seeded = ensure_template(server, folder / "seed-data")
    copy = f"{PREFIX}run_{os.getpid()}"
    url, copied = copy_of(server, template, copy)
    seed_line = f"seeded in {seeded:.0f} s" if seeded is not None else "seeded before (cached)"
    print(f"database: {template} ({seed_line}), copied in {copied:.1f} s", flush=True)
    record["seed"] = {"template": template, "seed_seconds": seeded, "copy_seconds": copied}
    try:
        workload = load(url, folder / "data")
        lines = request_lines(workload)
        files = {e: write_requests(folder, e.replace(" ", "_"), lines[e]) for e in ENDPOINTS}
        trips, differences = count_round_trips(folder, url, workload, lines, args.sequential)
        for difference in differences:
            print(f"warning: the apps answer differently: {difference}", flush=True)
        record["answers_differ"] = differences
        measured = measure(folder, url, workload, files, args, lambda line: print(line, flush=True))
    finally:
        drop(server, copy)
        shutil.rmtree(folder, ignore_errors=True)
    summary = summarize(measured, trips)
    record |= {
        "load_average_after": os.getloadavg(),
        "round_trips": trips,
        "measured": measured,
        "summary": summary,
    }
    print(
        f"\nmedians of {args.rounds} round(s), wrk -t{args.threads} -c{args.connections}"
        f" -d{args.duration:g}s; round trips and parses per request over {args.sequential}"
        f" sequential requests; ratio = service / lean req/s"
    )
    print(table(summary))
    print(f"load average now {_load_average()}; record: {write(record)}")


if __name__ == "__main__":
    main()
