"""What the metrics count, and that no label can take an unbounded set of values."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stamina
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest

from tests.scraped import scraped, value
from thedata.adapters.connectors.retrying import StaminaRetrying
from thedata.adapters.observability import configure_logging
from thedata.adapters.observability.metrics import (
    REGISTRY,
    BreakerSampler,
    PoolSampler,
    observe_request,
    record_pool_stats,
)
from thedata.adapters.observability.run_metrics import PrometheusRunMetrics
from thedata.domain.runs import Backoff, Run, RunError, RunTrigger

STANDARD_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
ROUTES = st.sampled_from([None, "/health/live", "/v1/orgs/{org_id}/pipelines"])


def request_counts() -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for (name, labels), count in scraped().items():
        if name == "thedata_http_requests_total":
            named = dict(labels)
            counts[(named["method"], named["route"], named["status_class"])] = int(count)
    return counts


@given(
    requests=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(sorted(STANDARD_METHODS)), st.text(max_size=12)),
            ROUTES,
            st.integers(min_value=100, max_value=599),
        ),
        max_size=20,
    )
)
def test_requests_are_counted_under_bounded_labels(
    requests: list[tuple[str, str | None, int]],
) -> None:
    """Any method a client sends, any status: counted once each, under a label from a fixed set."""
    before = request_counts()
    for method, route, status in requests:
        observe_request(method, route, status, 0.01)
    expected = Counter(
        (m if m in STANDARD_METHODS else "other", r or "unmatched", f"{s // 100}xx")
        for m, r, s in requests
    )
    assert request_counts() - before == expected


def test_a_request_lands_in_the_buckets_its_duration_falls_under() -> None:
    def bucket(le: str) -> float:
        return value(
            scraped(),
            "thedata_http_request_duration_seconds_bucket",
            method="DELETE",
            route="/duration-test",
            le=le,
        )

    before = {le: bucket(le) for le in ("0.1", "0.25", "+Inf")}
    observe_request("DELETE", "/duration-test", 204, 0.2)
    assert bucket("0.1") - before["0.1"] == 0
    assert bucket("0.25") - before["0.25"] == 1
    assert bucket("+Inf") - before["+Inf"] == 1


def test_pool_figures_are_set_and_its_counts_add_up() -> None:
    before = scraped()
    stats = {"pool_max": 10, "pool_size": 4, "pool_available": 1, "requests_waiting": 2}
    record_pool_stats({**stats, "requests_num": 7, "requests_wait_ms": 1500})
    record_pool_stats({**stats, "requests_num": 3})
    after = scraped()
    assert value(after, "thedata_db_pool_connections", state="in_use") == 3
    assert value(after, "thedata_db_pool_connections", state="idle") == 1
    assert value(after, "thedata_db_pool_max_connections") == 10
    assert value(after, "thedata_db_pool_waiting_requests") == 2
    acquires = "thedata_db_pool_acquires_total"
    assert value(after, acquires) - value(before, acquires) == 10
    waited = "thedata_db_pool_acquire_wait_seconds_total"
    assert value(after, waited) - value(before, waited) == pytest.approx(1.5)


def test_each_retry_stamina_makes_is_counted_by_operation_and_error() -> None:
    configure_logging(log_format="json", level="error")  # installs the retry hooks
    calls = 0

    @stamina.retry(on=ConnectionResetError, attempts=3)
    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionResetError
        return "done"

    def retries() -> float:
        return sum(
            count
            for (name, labels), count in scraped().items()
            if name == "thedata_retries_total"
            and dict(labels)["error_type"] == "ConnectionResetError"
            and dict(labels)["operation"].endswith("flaky")
        )

    before = retries()
    with stamina.set_testing(True, attempts=3):  # no waiting between tries
        assert flaky() == "done"
    assert retries() - before == 2


async def test_a_stream_retried_within_an_attempt_is_counted_as_the_stream_operation() -> None:
    """stamina names every retried block ``<context block>``: the service's one such block
    retries streams, and is counted under that name."""
    configure_logging(log_format="json", level="error")
    failures = 1

    def retries() -> float:
        return value(scraped(), "thedata_retries_total", operation="stream", error_type="OSError")

    before = retries()
    with stamina.set_testing(True, attempts=3):
        async for attempt in StaminaRetrying().attempts(lambda e: isinstance(e, OSError)):
            with attempt:
                if failures:
                    failures -= 1
                    raise OSError
    assert retries() - before == 1


def test_the_service_has_one_retried_block_so_its_label_is_right() -> None:
    """The hooks name every stamina ``retry_context`` block ``stream``: true while the
    stream retry is the only one. A second one needs a name of its own (this fails)."""
    root = Path(__file__).resolve().parents[2]
    uses = [
        path
        for layer in ("domain", "application", "adapters", "entrypoints")
        for path in (root / layer).rglob("*.py")
        if "retry_context(" in path.read_text()
    ]
    assert [p.relative_to(root).as_posix() for p in uses] == ["adapters/connectors/retrying.py"]


def test_the_build_is_described() -> None:
    (labels,) = [labels for name, labels in scraped() if name == "thedata_build_info"]
    assert {name for name, _ in labels} == {"version", "python_version"}


NOW = datetime(2026, 11, 30, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def running(max_attempts: int = 3) -> Run:
    queued = Run.queued(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), RunTrigger.SCHEDULE, NOW, max_attempts
    )
    return queued.claim("w", NOW, LEASE, epoch=1)


def test_a_run_s_life_is_counted_at_each_step() -> None:
    metrics = PrometheusRunMetrics()
    before = scraped()
    retryable = RunError("timeout", "the source did not answer", retryable=True)
    metrics.attempt_started(running())
    metrics.attempt_ended(running().failed(NOW, retryable, Backoff()), 2.0)  # queued again
    metrics.attempt_ended(running(max_attempts=1).failed(NOW, retryable, Backoff()), 3.0)
    metrics.attempt_refused()
    expired = NOW + 2 * LEASE
    metrics.lease_expired(running().lease_lost(expired, Backoff()))
    metrics.lease_expired(running(max_attempts=1).lease_lost(expired, Backoff()))
    queued = Run.queued(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), RunTrigger.SCHEDULE, NOW, 3)
    metrics.run_ended_unattempted(queued.cancel(NOW))
    after = scraped()

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("thedata_run_attempts_started_total", trigger="schedule") == 1
    assert added("thedata_run_attempts_ended_total", status="queued", trigger="schedule") == 1
    assert added("thedata_run_attempts_ended_total", status="failed", trigger="schedule") == 1
    assert added("thedata_runs_finished_total", status="failed", trigger="schedule") == 2
    assert added("thedata_runs_finished_total", status="cancelled", trigger="schedule") == 1
    assert added("thedata_run_attempt_duration_seconds_sum", trigger="schedule") == 5.0
    assert added("thedata_run_recoveries_total", kind="zombie_refused") == 1
    assert added("thedata_run_recoveries_total", kind="lease_expired_requeued") == 1
    assert added("thedata_run_recoveries_total", kind="failed_after_max_attempts") == 1


async def test_requests_answered_in_a_loop_are_recorded_at_its_next_turn_or_by_a_scrape() -> None:
    """Deferred like access lines: nothing recorded while the request's turn runs, all of it
    once the loop turns again; a scrape first records what is waiting."""

    def recorded() -> float:  # the registry as it is, without recording what waits
        return value(
            scraped(generate_latest(REGISTRY).decode()),
            "thedata_http_requests_total",
            method="PUT",
            route="/deferred",
            status_class="2xx",
        )

    before = recorded()
    observe_request("PUT", "/deferred", 200, 0.01)
    observe_request("PUT", "/deferred", 201, 0.01)
    assert recorded() == before
    await asyncio.sleep(0)
    assert recorded() == before + 2
    observe_request("PUT", "/deferred", 204, 0.01)
    assert (
        value(
            scraped(),
            "thedata_http_requests_total",
            method="PUT",
            route="/deferred",
            status_class="2xx",
        )
        == before + 3
    )


def test_the_pool_sampler_records_what_the_pool_s_counters_gained_and_leaves_them_alone() -> None:
    """The pool's counters run from its start (others read them too): each sample records
    only what they gained since the last, and a counter reset by someone counts whole."""
    readings = iter(
        [
            {"pool_max": 4, "requests_num": 10, "requests_wait_ms": 0},
            {"pool_max": 4, "requests_num": 15, "requests_wait_ms": 2000},
            {"pool_max": 4, "requests_num": 3, "requests_wait_ms": 2000},  # reset to 3
        ]
    )
    sampler = PoolSampler(lambda: next(readings))
    acquires = "thedata_db_pool_acquires_total"
    before = value(scraped(), acquires)
    gains: list[float] = []
    for _ in range(3):
        sampler()
        gains.append(value(scraped(), acquires) - before - sum(gains))
    assert gains == [10, 5, 3]


def test_the_open_breakers_gauge_follows_each_sample_back_to_zero() -> None:
    gauge = "thedata_circuit_breakers_open"
    BreakerSampler(lambda: {"sample-kind": 2})()
    assert value(scraped(), gauge, kind="sample-kind") == 2
    BreakerSampler(dict)()
    assert value(scraped(), gauge, kind="sample-kind") == 0
