"""One engine run in a process of its own, so its CPU time and peak RSS are its own.

``python -m benchmarks.engine_run SOURCE_URL DESTINATION_URL MODE EPOCH`` moves
table ``t`` of the source into ``t_engine`` of the destination and prints one
JSON line: rows, seconds, CPU seconds, peak RSS in MiB.
"""

from __future__ import annotations

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
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

ORG = uuid.UUID(int=1)
BATCH_ROWS = 50_000
STREAMS = {
    "full": Stream("t", "t_engine", StreamMode.FULL_REFRESH),
    "incremental": Stream("t", "t_engine", StreamMode.INCREMENTAL, "updated_at", ("id",)),
}


def config_of(url: str) -> dict[str, Any]:
    """A postgres data source's config for a TCP libpq URL."""
    parts = conninfo_to_dict(url)
    return {
        "host": str(parts.get("host") or "127.0.0.1"),
        "port": int(parts.get("port") or 5432),
        "database": str(parts["dbname"]),
        "user": str(parts.get("user") or "postgres"),
    }


async def main(source_url: str, destination_url: str, mode: str, epoch: int) -> dict[str, Any]:
    factory = DefaultConnectorFactory(
        Path("/nonexistent"), NetworkPolicy(allow_private=True), 600, control_database=None
    )
    reader = factory.reader(ORG, DataSourceKind.POSTGRES, config_of(source_url), {})
    writer = factory.writer(ORG, DataSourceKind.POSTGRES, config_of(destination_url), {})
    started, cpu = time.perf_counter(), time.process_time()
    outcome = await move_stream(
        reader, writer, pipeline="bench", stream=STREAMS[mode], epoch=epoch, batch_rows=BATCH_ROWS
    )
    return {
        "rows": outcome.rows,
        "format": outcome.format.value,
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    source, destination, how, attempt = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(source, destination, how, int(attempt)))))
