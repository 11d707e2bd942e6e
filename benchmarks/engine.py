"""The engine against the raw COPY pipe, PostgreSQL to PostgreSQL, on 1M rows (or ``--rows``).

``python -m benchmarks.engine [--rows N] [--rounds R]`` needs a PostgreSQL
server over TCP (``THEDATA_BENCH_DATABASE_URL``, default the local one at
127.0.0.1:5432) where it may create two databases. Every figure is a median
of the rounds, measured alternately with its baseline in the same run:

- full refresh: the engine (its own process: wall, CPU seconds, peak RSS)
  against ``psql -c "COPY t TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM
  STDIN (FORMAT binary)"`` (the client CPU of both psql processes beside it);
- incremental: 10,000 rows changed out of the table, end to end, and a run
  with nothing changed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = """
CREATE TABLE t (
    id bigint PRIMARY KEY, org_id bigint, created_at timestamptz, updated_at timestamptz,
    kind text, amount numeric(12,2), payload jsonb, note text
)
"""
FILL = """
INSERT INTO t
SELECT n, n %% 1000, now() - n * interval '1 second', now() - n * interval '1 second',
       (ARRAY['order', 'refund', 'invoice'])[1 + n %% 3], (n %% 100000) / 100.0,
       jsonb_build_object('sku', 'SKU-' || n %% 5000, 'qty', n %% 7, 'channel', 'web',
                          'tags', jsonb_build_array('a', 'b'), 'score', n %% 97 / 7.0),
       CASE WHEN n %% 5 = 0 THEN 'note for row ' || n END
FROM generate_series(1, %s) AS n
"""


def databases(server_url: str) -> tuple[str, str]:
    """Fresh source and destination databases on the server."""
    urls = []
    with psycopg.connect(server_url, autocommit=True) as connection:
        for name in ("thedata_bench_source", "thedata_bench_destination"):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            urls.append(make_conninfo(server_url, dbname=name))
    return urls[0], urls[1]


def fill(source_url: str, destination_url: str, rows: int) -> None:
    with psycopg.connect(source_url, autocommit=True) as connection:
        connection.execute(TABLE)
        connection.execute(FILL, (rows,))
        connection.execute("VACUUM ANALYZE t")
    with psycopg.connect(destination_url, autocommit=True) as connection:
        connection.execute(TABLE.replace("TABLE t", "TABLE t_pipe"))


def pipe(source_url: str, destination_url: str) -> dict[str, float]:
    """The raw pipe: psql COPY binary out of the source, into the destination."""
    with psycopg.connect(destination_url, autocommit=True) as connection:
        connection.execute("TRUNCATE t_pipe")
    psql = shutil.which("psql") or "psql"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.Popen(
        [psql, source_url, "-c", "COPY t TO STDOUT (FORMAT binary)"], stdout=subprocess.PIPE
    )
    into = subprocess.run(
        [psql, destination_url, "-c", "COPY t_pipe FROM STDIN (FORMAT binary)"],
        stdin=out.stdout,
        capture_output=True,
        check=True,
    )
    out.wait()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if b"COPY" not in into.stdout:
        raise SystemExit(f"the raw pipe failed: {into.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "cpu": cpu}


def engine(source_url: str, destination_url: str, mode: str, epoch: int) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.engine_run",
            source_url,
            destination_url,
            mode,
            str(epoch),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    # what the process costs around the engine: interpreter start, imports, exit
    measured["overhead"] = time.perf_counter() - started - measured["seconds"]
    return measured


def change(source_url: str, rows: int) -> None:
    with psycopg.connect(source_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE t SET updated_at = clock_timestamp(), amount = amount + 1"
            " WHERE id IN (SELECT id FROM t ORDER BY random() LIMIT %s)",
            (rows,),
        )


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.OperationalError:
        print(f"engine benchmark skipped: no PostgreSQL over TCP at {server}")
        return
    source, destination = databases(server)
    fill(source, destination, args.rows)
    pipes, fulls, epoch = [], [], 0
    for n in range(args.rounds):
        for first in (n % 2 == 0, n % 2 != 0):  # alternate which goes first
            if first:
                pipes.append(pipe(source, destination))
            else:
                epoch += 1
                fulls.append(engine(source, destination, "full", epoch))
    pipe_s, full_s = median(pipes, "seconds"), median(fulls, "seconds")
    print(f"pg→pg full refresh, {args.rows:,} rows (median of {args.rounds}):")
    print(f"  raw psql COPY pipe : {pipe_s:7.2f} s  (client CPU {median(pipes, 'cpu'):.2f} s)")
    print(
        f"  engine ({fulls[0]['format']}): {full_s:7.2f} s  (CPU {median(fulls, 'cpu'):.2f} s, "
        f"peak RSS {max(r['rss_mib'] for r in fulls):.0f} MiB)"
    )
    print(f"  ratio engine / pipe throughput: {pipe_s / full_s:5.2f}x")
    epoch += 1
    engine(source, destination, "incremental", epoch)  # the first incremental load
    changed, noops = [], []
    for _ in range(args.rounds):
        change(source, 10_000)
        epoch += 1
        changed.append(engine(source, destination, "incremental", epoch))
        epoch += 1
        noops.append(engine(source, destination, "incremental", epoch))
    print(
        f"pg→pg incremental, 10,000 changed of {args.rows:,}: {median(changed, 'seconds'):.3f} s"
        f" (CPU {median(changed, 'cpu'):.2f} s, rows {changed[0]['rows']:,});"
        f" nothing changed: {median(noops, 'seconds'):.3f} s"
    )
    print(
        f"  (the engine's own time, in its process; starting that process and importing the"
        f" engine adds {median(changed + noops, 'overhead'):.2f} s to each run)"
    )


if __name__ == "__main__":
    main()
