"""Verification after a stream: the destination's fingerprint against the source's snapshot,
computed by PostgreSQL in SQL on one side and by Python over CSV text forms on the other, so
that a match across kinds means both spell every row alike; reported, never skipped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import tcp_endpoint
from tests.integration.test_run_pipeline_folders import databases
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.application.move_stream import StreamOutcome, Verdict, move_stream
from thedata.application.ports import StreamReader, StreamWriter
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode

pytestmark = pytest.mark.postgres
__all__ = ["databases"]  # the fixture: typed source tables, an empty destination

ORG = uuid.UUID(int=3)
FULL = Stream("orders", "orders", StreamMode.FULL_REFRESH)
UPSERT = Stream("orders", "orders", StreamMode.INCREMENTAL, "updated_at", ("id",))
APPEND = Stream("events", "events", StreamMode.INCREMENTAL, "seq")


@pytest.fixture
def ends(databases: tuple[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Readers and writers of the source and destination databases and of a CSV and a JSON
    Lines folder."""
    source_url, destination_url = databases
    for name in ("csv", "jsonl"):
        (tmp_path / str(ORG) / name).mkdir(parents=True)
    factory = DefaultConnectorFactory(tmp_path, NetworkPolicy(allow_private=True), 10, None)
    with ExitStack() as stack:
        made: dict[str, Any] = {"source_url": source_url, "destination_url": destination_url}
        for side, url in (("source", source_url), ("destination", destination_url)):
            host, port, database, user = stack.enter_context(tcp_endpoint(url))
            config = {"host": host, "port": port, "database": database, "user": user}
            made[f"{side}_reader"] = factory.reader(ORG, DataSourceKind.POSTGRES, config, {})
            made[f"{side}_writer"] = factory.writer(ORG, DataSourceKind.POSTGRES, config, {})
        for name in ("csv", "jsonl"):
            config = {"path": name, "format": name}
            made[f"{name}_reader"] = factory.reader(ORG, DataSourceKind.FILE, config, {})
            made[f"{name}_writer"] = factory.writer(ORG, DataSourceKind.FILE, config, {})
        yield made


async def move(
    reader: StreamReader, writer: StreamWriter, stream: Stream, epoch: int = 1
) -> StreamOutcome:
    return await move_stream(
        reader, writer, pipeline="v", stream=stream, epoch=epoch, batch_rows=64, verify=True
    )


def execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


@pytest.mark.parametrize("stream", [FULL, UPSERT], ids=["full", "upsert"])
async def test_postgres_to_postgres_matches_and_a_tampered_destination_does_not(
    ends: dict[str, Any], stream: Stream
) -> None:
    first = await move(ends["source_reader"], ends["destination_writer"], stream)
    assert first.verification is not None
    assert first.verification.verdict is Verdict.MATCH, first.verification
    assert first.verification.source is not None
    assert first.verification.source.rows == 300
    execute(ends["destination_url"], "UPDATE orders SET note = 'edited by hand' WHERE id = 7")
    # the same stream again: a full refresh repairs it (and matches), an upsert with nothing
    # new to read leaves the edit, and says so
    again = await move(ends["source_reader"], ends["destination_writer"], stream, 2)
    assert again.verification is not None
    if stream is FULL:
        assert again.verification.verdict is Verdict.MATCH
        return
    assert again.verification is not None
    assert again.verification.verdict is Verdict.MISMATCH
    assert again.verification.reason == "the destination differs from the source's snapshot"


async def test_postgres_to_a_csv_folder_and_back_match_across_implementations(
    ends: dict[str, Any],
) -> None:
    """PostgreSQL's SQL sum over ROW(...)::text equals Python's over the CSV text forms, for
    every type of the source (numeric, timestamptz, jsonb, text[] with NULLs, bytea, text
    with quotes, commas, line breaks and empty strings)."""
    out = await move(ends["source_reader"], ends["csv_writer"], FULL)
    back = await move(ends["csv_reader"], ends["destination_writer"], FULL)
    for outcome in (out, back):
        assert outcome.verification is not None
        assert outcome.verification.verdict is Verdict.MATCH, outcome.verification
    assert out.verification is not None
    assert back.verification is not None
    assert out.verification.source == back.verification.destination


async def test_what_cannot_be_verified_says_why(ends: dict[str, Any]) -> None:
    appended = await move(ends["source_reader"], ends["destination_writer"], APPEND)
    assert appended.verification is not None
    assert appended.verification.verdict is Verdict.UNAVAILABLE
    assert "appended" in str(appended.verification.reason)
    to_json = await move(ends["source_reader"], ends["jsonl_writer"], FULL)
    assert to_json.verification is not None
    assert to_json.verification.verdict is Verdict.UNAVAILABLE
    assert to_json.verification.reason == "the destination cannot take a fingerprint of this stream"


async def test_rows_held_back_by_a_running_transaction_are_said_to_be_the_likely_cause(
    ends: dict[str, Any],
) -> None:
    await move(ends["source_reader"], ends["destination_writer"], UPSERT)
    with psycopg.connect(ends["source_url"]) as running:
        running.execute("UPDATE customers SET name = 'busy' WHERE id = 1")  # holds an xid
        execute(
            ends["source_url"], "UPDATE orders SET note = 'late', updated_at = now() WHERE id = 3"
        )
        outcome = await move(ends["source_reader"], ends["destination_writer"], UPSERT, 2)
        running.rollback()
    assert outcome.verification is not None
    assert outcome.verification.verdict is Verdict.MISMATCH
    assert outcome.verification.source is not None
    assert not outcome.verification.source.complete
    assert "held back" in str(outcome.verification.reason)
