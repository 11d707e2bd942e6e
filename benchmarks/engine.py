"""The engine against the raw COPY pipe: PostgreSQL to PostgreSQL and to and from folders.

``python -m benchmarks.engine [--rows N] [--rounds R] [--rss-rows N,M]`` needs a
PostgreSQL server over TCP (``THEDATA_BENCH_DATABASE_URL``, default the local
one at 127.0.0.1:5432) where it may create databases named
``<--database-prefix>source`` and so on (dropped at the end), and a folder for
the ``file`` data sources (a temporary one under ``--data-dir``, removed at
the end). Every figure is a median of the rounds, measured alternately with
its baseline in the same run; each engine run is a process of its own
(``benchmarks.engine_run``): wall, CPU seconds and peak RSS are its own.

- full refresh of table ``t`` (``--rows``, 1M): PostgreSQL to PostgreSQL, to a
  CSV folder, to a JSON Lines folder, and back from each folder (the stream the
  previous run published, into a table of its own), against ``psql -c "COPY t
  TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM STDIN (FORMAT binary)"``
  (the client CPU of both psql processes beside it). Round by round the order
  of the six is reversed;
- incremental, PostgreSQL to PostgreSQL: 10,000 rows changed out of the table,
  end to end, and a run with nothing changed, into a table the stream's first
  incremental run loaded (``t_incremental``);
- with ``--rss-rows``: the peak RSS of a PostgreSQL to PostgreSQL full refresh
  at each row count (``--rss-rounds`` each, alternated with the pipe), against a
  process that imported the engine and built its connectors but moved nothing.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.engine_rss import bench_rss
from benchmarks.engine_run import ORG
from benchmarks.engine_setup import databases, digest, drop, engine, fill, median, pipe

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INCREMENTAL = "t_incremental"
ROUTES = (  # label, source, destination, stream, table
    ("pg → pg", "{pg}", "{pg_out}", "t", "t_engine"),
    ("pg → CSV folder", "{pg}", "csv:csv", "t", "t_csv"),
    ("CSV folder → pg", "csv:csv", "{pg_out}", "t_csv", "t_from_csv"),
    ("pg → JSONL folder", "{pg}", "jsonl:jsonl", "t", "t_jsonl"),
    ("JSONL folder → pg", "jsonl:jsonl", "{pg_out}", "t_jsonl", "t_from_jsonl"),
)


def full_refreshes(
    source: str, destination: str, data_root: Path, rounds: int
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Every route's full refresh and the pipe, alternated: round 0 in ``ROUTES`` order (a
    folder is published before it is read), every other round reversed."""
    pipes: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {route[0]: [] for route in ROUTES}
    steps: list[tuple[str, ...] | None] = [None, *ROUTES]  # None: the pipe
    epoch = 0
    for n in range(rounds):
        for step in steps if n % 2 == 0 else reversed(steps):
            if step is None:
                pipes.append(pipe(source, destination))
                continue
            label, from_, to, stream, table = step
            epoch += 1
            ends = {"pg": source, "pg_out": destination}
            runs[label].append(
                engine(
                    from_.format(**ends),
                    to.format(**ends),
                    "full",
                    epoch,
                    stream=stream,
                    table=table,
                    data_root=data_root,
                )
            )
    return pipes, runs


def report_full(
    rows: int, rounds: int, pipes: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]
) -> None:
    pipe_s = median(pipes, "seconds")
    print(f"full refresh, {rows:,} rows (median of {rounds}; ratio = pipe time / engine time):")
    print(f"  {'route':<19} {'format':<14} {'seconds':>8} {'ratio':>6} {'CPU s':>6} {'RSS MiB':>8}")
    print(
        f"  {'raw psql COPY pipe':<19} {'binary':<14} {pipe_s:8.2f} {1:6.2f} "
        f"{median(pipes, 'cpu'):6.2f} {max(r['rss_mib'] for r in pipes):8.0f}"
    )
    for label, measured in runs.items():
        if any(r["rows"] != rows for r in measured):
            raise SystemExit(f"{label} moved {measured[0]['rows']:,} rows, not {rows:,}")
        seconds = median(measured, "seconds")
        print(
            f"  {label:<19} {measured[0]['format']:<14} {seconds:8.2f} {pipe_s / seconds:6.2f} "
            f"{median(measured, 'cpu'):6.2f} {max(r['rss_mib'] for r in measured):8.0f}"
        )
    print(
        "  (CPU s and RSS: the engine's process, or both psql processes' CPU and the larger"
        " one's RSS; the database server's work is in neither)"
    )


def check_copies(source: str, destination: str) -> None:
    """Every table the runs wrote holds exactly the source's rows."""
    expected = digest(source, "t")
    for table in ("t_pipe", *(route[4] for route in ROUTES if route[2] == "{pg_out}")):
        if digest(destination, table) != expected:
            raise SystemExit(f"{table} does not hold the rows of t")


def incremental(source: str, destination: str, rows: int, rounds: int) -> None:
    """A pipeline incremental from its start: a table of its own, loaded by its first run.
    Reusing a full refresh's table made that run rewrite all its rows by upsert first (an
    unlikely history), and the runs measured after it paid for the bloat: 0.45-0.53 s rather
    than 0.36-0.38 s for 10,000 changed rows, measured on 2026-12-01."""
    epoch = rounds * len(ROUTES) + 1  # above every full refresh's
    run = functools.partial(engine, source, destination, "incremental", table=INCREMENTAL)
    run(epoch)  # the first incremental load
    changed, noops = [], []
    for _ in range(rounds):
        change(source, 10_000)
        epoch += 1
        changed.append(run(epoch))
        epoch += 1
        noops.append(run(epoch))
    if digest(destination, INCREMENTAL) != digest(source, "t"):
        raise SystemExit(f"{INCREMENTAL} does not hold the rows of t after the incremental runs")
    print(
        f"pg → pg incremental, 10,000 changed of {rows:,}: {median(changed, 'seconds'):.3f} s"
        f" (CPU {median(changed, 'cpu'):.2f} s, rows {changed[0]['rows']:,});"
        f" nothing changed: {median(noops, 'seconds'):.3f} s"
    )
    print(
        f"  (the engine's own time, in its process; starting that process and importing the"
        f" engine adds {median(changed + noops, 'overhead'):.2f} s to each run)"
    )


def change(source_url: str, rows: int) -> None:
    with psycopg.connect(source_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE t SET updated_at = clock_timestamp(), amount = amount + 1"
            " WHERE id IN (SELECT id FROM t ORDER BY random() LIMIT %s)",
            (rows,),
        )


def counts(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-rows", type=counts, default=[], help="e.g. 1000000,5000000")
    parser.add_argument("--rss-rounds", type=int, default=1)
    parser.add_argument("--database-prefix", default="thedata_bench_")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the temp dir")
    args = parser.parse_args()
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.OperationalError:
        print(f"engine benchmark skipped: no PostgreSQL over TCP at {server}")
        return
    names = [args.database_prefix + name for name in ("source", "destination")]
    data_root = Path(tempfile.mkdtemp(prefix="thedata_bench_", dir=args.data_dir))
    try:
        for path in ("csv", "jsonl"):
            (data_root / str(ORG) / path).mkdir(parents=True)
        source, destination = databases(server, names)
        fill(source, destination, args.rows)
        pipes, runs = full_refreshes(source, destination, data_root, args.rounds)
        check_copies(source, destination)
        report_full(args.rows, args.rounds, pipes, runs)
        incremental(source, destination, args.rows, args.rounds)
        if args.rss_rows:
            drop(server, names)  # room for the larger tables
            bench_rss(server, args.database_prefix, args.rss_rows, args.rss_rounds)
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
        drop(server, names)


if __name__ == "__main__":
    main()
