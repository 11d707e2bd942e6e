"""One engine run in a process of its own, so its CPU time and peak RSS are its own.

``python -m benchmarks.engine_run SOURCE DESTINATION MODE EPOCH`` moves table
``t`` of the source into ``t_engine`` of the destination and prints one JSON
line: rows, seconds, CPU seconds, peak RSS in MiB. ``SOURCE`` and
``DESTINATION`` are PostgreSQL URLs or ``csv:PATH`` / ``jsonl:PATH``: a ``file``
data source whose folder is ``PATH`` in the organization's folder under
``--data-root``, built by the same factory as the service's. ``--stream`` and
``--table`` name the source stream and the destination table. ``MODE`` ``idle``
moves nothing: the peak RSS of a process that imported the engine and built
its connectors, what the others are measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import move_stream
from thedata.application.ports import StreamReader, StreamWriter
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

ORG = uuid.UUID(int=1)
BATCH_ROWS = 50_000
FILE_FORMATS = ("csv", "jsonl")


def stream_of(mode: str, name: str, table: str) -> Stream:
    if mode == "incremental":
        return Stream(name, table, StreamMode.INCREMENTAL, "updated_at", ("id",))
    return Stream(name, table, StreamMode.FULL_REFRESH)


def config_of(url: str) -> dict[str, Any]:
    """A postgres data source's config for a TCP libpq URL."""
    parts = conninfo_to_dict(url)
    return {
        "host": str(parts.get("host") or "127.0.0.1"),
        "port": int(parts.get("port") or 5432),
        "database": str(parts["dbname"]),
        "user": str(parts.get("user") or "postgres"),
    }


def data_source(endpoint: str) -> tuple[DataSourceKind, dict[str, Any]]:
    """The kind and config an endpoint names: ``csv:PATH``, ``jsonl:PATH`` or a URL."""
    kind, _, path = endpoint.partition(":")
    if kind in FILE_FORMATS:
        return DataSourceKind.FILE, {"path": path, "format": kind}
    return DataSourceKind.POSTGRES, config_of(endpoint)


def connectors(data_root: Path, source: str, destination: str) -> tuple[StreamReader, StreamWriter]:
    factory = DefaultConnectorFactory(
        data_root, NetworkPolicy(allow_private=True), 600, control_database=None
    )
    reader = factory.reader(ORG, *data_source(source), {})
    writer = factory.writer(ORG, *data_source(destination), {})
    return reader, writer


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    reader, writer = connectors(arguments.data_root, arguments.source, arguments.destination)
    started, cpu = time.perf_counter(), time.process_time()
    measured: dict[str, Any] = {"rows": 0, "format": "none"}
    if arguments.mode != "idle":
        outcome = await move_stream(
            reader,
            writer,
            pipeline="bench",
            stream=stream_of(arguments.mode, arguments.stream, arguments.table),
            epoch=arguments.epoch,
            batch_rows=BATCH_ROWS,
        )
        measured = {"rows": outcome.rows, "format": outcome.format.value}
    return {
        **measured,
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss_mib": peak_rss_kib() / 1024,
    }


def peak_rss_kib() -> float:
    """This program's peak RSS. ``ru_maxrss`` would also count the parent's at the fork (a
    forked child starts with its high-water mark, and exec keeps it): Linux's ``VmHWM`` is
    this program's own, from exec on."""
    try:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else peak  # bytes there, KiB elsewhere


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("destination")
    parser.add_argument("mode", choices=("full", "incremental", "idle"))
    parser.add_argument("epoch", type=int)
    parser.add_argument("--stream", default="t")
    parser.add_argument("--table", default="t_engine")
    # the factory wants one even for PostgreSQL alone; nothing is written there then
    parser.add_argument("--data-root", type=Path, default=Path("/nonexistent"))
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(arguments()))))
