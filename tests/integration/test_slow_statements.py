"""Statements at or over THEDATA_DB_SLOW_STATEMENT_SECONDS are reported (a log line and a
histogram), named by operation and table; faster ones are not, and neither is anything
with the setting at 0."""

from __future__ import annotations

import io
import json

import pytest
from prometheus_client import generate_latest

from thedata.adapters.observability.metrics import REGISTRY, report_slow_statement
from thedata.adapters.postgres.pool import open_pool

pytestmark = pytest.mark.postgres


async def statements_reported(database_url: str, threshold: float) -> list[tuple[object, ...]]:
    reported: list[tuple[object, ...]] = []
    pools = open_pool(
        database_url,
        min_size=1,
        max_size=1,
        connect_timeout=2,
        statement_timeout=5,
        acquire_timeout=2,
        startup_timeout=5,
        slow_statement_seconds=threshold,
        on_slow_statement=lambda *seen: reported.append(seen),
    )
    pool = await anext(pools)
    try:
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
            await connection.execute("SELECT pg_sleep(0.3) FROM pg_class LIMIT 1")
    finally:
        await pools.aclose()
    return reported


async def test_a_statement_over_the_threshold_is_reported_and_a_fast_one_is_not(
    database_url: str,
) -> None:
    reported = await statements_reported(database_url, threshold=0.2)
    assert len(reported) == 1
    operation, table, seconds = reported[0]
    assert (operation, table) == ("SELECT", "pg_class")
    assert isinstance(seconds, float)
    assert 0.3 <= seconds < 5


async def test_a_threshold_of_zero_reports_nothing(database_url: str) -> None:
    assert await statements_reported(database_url, threshold=0) == []


def test_a_report_is_one_warning_and_one_observation(log_lines: io.StringIO) -> None:
    report_slow_statement("UPDATE", "runs", 1.25)
    [line] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert line["event"] == "slow database statement"
    assert line["level"] == "warning"
    assert (line["operation"], line["table"], line["duration_ms"]) == ("UPDATE", "runs", 1250.0)
    exposed = generate_latest(REGISTRY).decode()
    assert (
        'thedata_db_slow_statement_duration_seconds_count{operation="UPDATE",table="runs"}'
        in exposed
    )
