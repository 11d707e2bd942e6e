"""The engine process's peak RSS, PostgreSQL to PostgreSQL full refresh, at several table sizes.

Memory must not grow with a table: the figure at each size is read beside the
process at rest (the engine imported, its connectors built, nothing moved),
and each run is alternated with the raw pipe so its time has a baseline too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.engine_setup import databases, drop, engine, fill, median, pipe


def bench_rss(server: str, prefix: str, sizes: Sequence[int], rounds: int) -> None:
    names = [prefix + name for name in ("rss_source", "rss_destination")]
    try:
        source, destination = databases(server, names)
        idle = engine(source, destination, "idle", 0)
        print(
            f"pg → pg full refresh, peak RSS of the engine's process (at rest: "
            f"{idle['rss_mib']:.0f} MiB, the engine imported and its connectors built):"
        )
        print(
            f"  {'rows':>10} {'RSS MiB':>8} {'seconds':>8} {'CPU s':>6} {'pipe s':>7} {'ratio':>6}"
        )
        epoch = 0
        for rows in sizes:
            fill(source, destination, rows)
            pipes: list[dict[str, Any]] = []
            runs: list[dict[str, Any]] = []
            for n in range(rounds):
                for first in (n % 2 == 0, n % 2 != 0):  # alternate which goes first
                    if first:
                        pipes.append(pipe(source, destination))
                    else:
                        epoch += 1
                        runs.append(engine(source, destination, "full", epoch))
            if any(r["rows"] != rows for r in runs):
                raise SystemExit(f"the engine moved {runs[0]['rows']:,} rows, not {rows:,}")
            seconds, pipe_s = median(runs, "seconds"), median(pipes, "seconds")
            print(
                f"  {rows:>10,} {max(r['rss_mib'] for r in runs):8.0f} {seconds:8.2f} "
                f"{median(runs, 'cpu'):6.2f} {pipe_s:7.2f} {pipe_s / seconds:6.2f}"
            )
    finally:
        drop(server, names)
