"""``RunMetrics`` in Prometheus: runs queued, attempts started and ended, recoveries."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from thedata.adapters.observability.metrics import REGISTRY
from thedata.domain.runs import Run, RunStatus, RunTrigger

# an attempt moves anything from an empty table to a large one
ATTEMPT_BUCKETS = (0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

_QUEUED = Counter(
    "thedata_runs_queued",
    "Runs queued, by what queued them.",
    ["trigger"],
    registry=REGISTRY,
)
_STARTED = Counter(
    "thedata_run_attempts_started",
    "Attempts workers started (each claim of a run), by what queued the run.",
    ["trigger"],
    registry=REGISTRY,
)
_ENDED = Counter(
    "thedata_run_attempts_ended",
    "Attempts that ended and were stored, by the run's status after them (queued: it will "
    "be tried again) and what queued it.",
    ["status", "trigger"],
    registry=REGISTRY,
)
_FINISHED = Counter(
    "thedata_runs_finished",
    "Runs that reached an end (succeeded, failed, cancelled), by status and what queued them.",
    ["status", "trigger"],
    registry=REGISTRY,
)
_DURATION = Histogram(
    "thedata_run_attempt_duration_seconds",
    "Time an attempt took, from its claim to its end, by what queued the run.",
    ["trigger"],
    buckets=ATTEMPT_BUCKETS,
    registry=REGISTRY,
)
_ROWS = Counter(
    "thedata_run_rows_written",
    "Rows attempts wrote to their destinations (counted after each batch, so a failed "
    "attempt's batches count too), by the connector kinds at both ends.",
    ["source_kind", "destination_kind"],
    registry=REGISTRY,
)
_BYTES = Counter(
    "thedata_run_written_bytes",
    "Bytes attempts wrote to their destinations, in the frames the two ends exchanged "
    "(binary COPY between PostgreSQL databases, else the destination's encoding), by the "
    "connector kinds at both ends.",
    ["source_kind", "destination_kind"],
    registry=REGISTRY,
)
_RECOVERIES = Counter(
    "thedata_run_recoveries",
    "Runs taken back from workers that stopped renewing their lease (requeued, or failed "
    "with their attempts spent), and commits of such workers refused (zombie_refused).",
    ["kind"],
    registry=REGISTRY,
)


# every worker reads the same queue: the largest figure is the current one
_QUEUE_DEPTH = Gauge(
    "thedata_run_queue_depth",
    "Runs queued (all organizations), as a worker last read it.",
    multiprocess_mode="max",
    registry=REGISTRY,
)
_QUEUE_WAIT = Gauge(
    "thedata_run_queue_oldest_wait_seconds",
    "How long the longest queued run has waited, as a worker last read it (0: none queued).",
    multiprocess_mode="max",
    registry=REGISTRY,
)


_WORKER_REPORT = Gauge(
    "thedata_worker_last_report_timestamp_seconds",
    "When a worker last read the queue (every 5 s while it runs); 0 in processes without one.",
    multiprocess_mode="max",
    registry=REGISTRY,
)

# what the reaper made of a run whose worker stopped answering
_RECOVERY_OF = {
    RunStatus.QUEUED: "lease_expired_requeued",
    RunStatus.FAILED: "failed_after_max_attempts",
    RunStatus.CANCELLED: "lease_expired_cancelled",  # asked to stop: it did, by dying
}
# created at 0, so that a first occurrence is an increase a rate sees, not a new series
for _kind in (*_RECOVERY_OF.values(), "zombie_refused"):
    _RECOVERIES.labels(kind=_kind)
for _trigger in RunTrigger:
    _STARTED.labels(trigger=_trigger.value)
    _QUEUED.labels(trigger=_trigger.value)
    for _status in RunStatus:
        if _status.finished:
            _FINISHED.labels(status=_status.value, trigger=_trigger.value)


class PrometheusRunMetrics:
    """Counts what the worker reports (see ``RunMetrics``)."""

    def run_queued(self, trigger: str) -> None:
        _QUEUED.labels(trigger=trigger).inc()

    def attempt_started(self, run: Run) -> None:
        _STARTED.labels(trigger=run.trigger.value).inc()

    def attempt_ended(self, run: Run, seconds: float) -> None:
        status, trigger = run.status.value, run.trigger.value
        _ENDED.labels(status=status, trigger=trigger).inc()
        _DURATION.labels(trigger=trigger).observe(seconds)
        if run.status.finished:
            _FINISHED.labels(status=status, trigger=trigger).inc()

    def moved(self, source_kind: str, destination_kind: str, rows: int, size: int) -> None:
        _ROWS.labels(source_kind=source_kind, destination_kind=destination_kind).inc(rows)
        _BYTES.labels(source_kind=source_kind, destination_kind=destination_kind).inc(size)

    def attempt_refused(self) -> None:
        _RECOVERIES.labels(kind="zombie_refused").inc()

    def lease_expired(self, run: Run) -> None:
        _RECOVERIES.labels(kind=_RECOVERY_OF[run.status]).inc()
        if run.status.finished:
            _FINISHED.labels(status=run.status.value, trigger=run.trigger.value).inc()

    def backlog(self, queued: int, oldest_wait_seconds: float) -> None:
        _QUEUE_DEPTH.set(queued)
        _QUEUE_WAIT.set(oldest_wait_seconds)
        _WORKER_REPORT.set_to_current_time()

    def run_ended_unattempted(self, run: Run) -> None:
        _FINISHED.labels(status=run.status.value, trigger=run.trigger.value).inc()
