"""A worker process that moves one stream and says so after every batch, to be killed for real.

``python -m tests.engine_worker CONFIG_JSON`` with ``{"source": {...}, "destination":
{...}, "stream": "events" | "orders" | "refresh", "epoch": N, "batch_rows": N}`` and, for
folders, ``"source_kind"`` / ``"destination_kind"`` ``"file"`` and the ``"data_root"``:
prints ``batch <rows so far>`` after each batch it committed, then ``done``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import move_stream
from thedata.application.ports import Moved
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

STREAMS = {
    "events": Stream("events", "events_log", StreamMode.INCREMENTAL, "seq"),
    "orders": Stream("orders", "orders_copy", StreamMode.INCREMENTAL, "updated", ("id",)),
    "refresh": Stream("orders", "orders_refreshed", StreamMode.FULL_REFRESH),
}
ORG = uuid.UUID(int=1)


def report(moved: Moved) -> None:
    print(f"batch {moved.rows}", flush=True)  # noqa: T201 - the parent reads this line


async def main(settings: dict[str, Any]) -> None:
    factory = DefaultConnectorFactory(
        Path(settings.get("data_root", "/nonexistent")),
        NetworkPolicy(allow_private=True),
        60,
        control_database=None,
    )
    source_kind = DataSourceKind(settings.get("source_kind", "postgres"))
    destination_kind = DataSourceKind(settings.get("destination_kind", "postgres"))
    reader = factory.reader(ORG, source_kind, settings["source"], {})
    writer = factory.writer(ORG, destination_kind, settings["destination"], {})
    await move_stream(
        reader,
        writer,
        pipeline="killed",
        stream=STREAMS[settings["stream"]],
        epoch=settings["epoch"],
        batch_rows=settings["batch_rows"],
        progress=report,
    )
    print("done", flush=True)  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
