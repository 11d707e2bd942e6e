"""What the engine benchmark runs against: its databases and table, the raw pipe, engine runs."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

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
# a table's rows as one number, the same on any database that holds the same rows
DIGEST = "SELECT count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) FROM {} AS x"


def databases(server_url: str, names: Sequence[str]) -> list[str]:
    """Fresh databases of these names on the server (dropped first if they are there)."""
    urls = []
    with psycopg.connect(server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            urls.append(make_conninfo(server_url, dbname=name))
    return urls


def drop(server_url: str, names: Sequence[str]) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def fill(source_url: str, destination_url: str, rows: int) -> None:
    """Table ``t`` of ``rows`` rows in the source (replacing it), an empty ``t_pipe`` beside
    the destination's other tables."""
    with psycopg.connect(source_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS t")
        connection.execute(TABLE)
        connection.execute(FILL, (rows,))
        connection.execute("VACUUM ANALYZE t")
    with psycopg.connect(destination_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS t_pipe")
        connection.execute(TABLE.replace("TABLE t", "TABLE t_pipe"))


def digest(url: str, table: str) -> tuple[int, int]:
    with psycopg.connect(url) as connection:
        row = connection.execute(sql.SQL(DIGEST).format(sql.Identifier(table))).fetchone()
    assert row is not None  # noqa: S101 - an aggregate always has a row
    return int(row[0]), int(row[1])


def pipe(source_url: str, destination_url: str) -> dict[str, float]:
    """The raw pipe: psql COPY binary out of the source, into the destination."""
    with psycopg.connect(destination_url, autocommit=True) as connection:
        connection.execute("TRUNCATE t_pipe")
    psql = shutil.which("psql") or "psql"
    with tempfile.TemporaryDirectory() as scratch:
        peaks = [Path(scratch, "out"), Path(scratch, "into")]
        started = time.perf_counter()
        out = subprocess.Popen(
            [*_peak(peaks[0]), psql, source_url, "-c", "COPY t TO STDOUT (FORMAT binary)"],
            stdout=subprocess.PIPE,
        )
        into = subprocess.Popen(
            [
                *_peak(peaks[1]),
                psql,
                destination_url,
                "-c",
                "COPY t_pipe FROM STDIN (FORMAT binary)",
            ],
            stdin=out.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert out.stdout is not None  # noqa: S101 - a pipe, asked for above
        assert into.stdout is not None  # noqa: S101 - likewise
        assert into.stderr is not None  # noqa: S101 - likewise
        out.stdout.close()  # only the second psql reads it now
        # each process's own CPU, its children's included (RUSAGE_CHILDREN mixes in every run)
        used = [os.wait4(process.pid, 0)[2] for process in (out, into)]
        seconds = time.perf_counter() - started
        out.returncode = into.returncode = 0  # reaped above
        said, errors = into.stdout.read(), into.stderr.read()
        into.stdout.close()
        into.stderr.close()
        if b"COPY" not in said:
            raise SystemExit(f"the raw pipe failed: {errors.decode()}")
        rss = [_read_peak(path) for path in peaks]
    return {
        "seconds": seconds,
        "cpu": sum(u.ru_utime + u.ru_stime for u in used),
        "rss_mib": max(rss) / 1024 if all(r > 0 for r in rss) else math.nan,
    }


def _peak(path: Path) -> list[str]:
    """A prefix that writes the command's peak RSS (KiB) into ``path``: GNU time, whose own
    child starts small. A child of ours would count our RSS in its peak: a forked process
    starts with its parent's high-water mark, and exec keeps it in ``ru_maxrss``."""
    time_command = Path("/usr/bin/time")
    return [str(time_command), "-f", "%M", "-o", str(path)] if time_command.is_file() else []


def _read_peak(path: Path) -> int:
    try:
        return int(path.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def engine(
    source: str,
    destination: str,
    mode: str,
    epoch: int,
    *,
    stream: str = "t",
    table: str = "t_engine",
    data_root: Path | None = None,
) -> dict[str, Any]:
    """One engine run in its own process (``benchmarks.engine_run``); what it measured."""
    command = [sys.executable, "-m", "benchmarks.engine_run", source, destination, mode]
    command += [str(epoch), "--stream", stream, "--table", table]
    if data_root is not None:
        command += ["--data-root", str(data_root)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"an engine run failed ({' '.join(command[3:])}):\n{result.stderr}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    # what the process costs around the engine: interpreter start, imports, exit
    measured["overhead"] = time.perf_counter() - started - measured["seconds"]
    return measured


def median(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)
