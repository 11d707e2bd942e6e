"""Grafana dashboards of theData.io, built in code with Grafana's own Foundation SDK.

``python deploy/monitoring/grafana/dashboards.py`` writes them to ``dashboards/`` next to
this file, where Grafana's provisioning reads them; never edit that JSON by hand (a test
fails when it differs from what this file builds, and another runs every panel's query
against a real Prometheus scraping a real service).
"""

from __future__ import annotations

from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def query(expr: str, legend: str = "") -> Dataquery:
    built = Dataquery().expr(expr).datasource(DATASOURCE)
    return built.legend_format(legend) if legend else built


def series(title: str, unit: str, *targets: Dataquery, width: int = 12) -> Timeseries:
    panel = Timeseries().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for number, target in enumerate(targets):
        panel = panel.with_target(target.ref_id(chr(ord("A") + number)))
    return panel


def stat(title: str, unit: str, target: Dataquery, width: int = 6) -> Stat:
    return (
        Stat()
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(4)
        .span(width)
        .with_target(target.ref_id("A"))
    )


def dashboard(uid: str, title: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .tags(["thedata", "generated"])
        .refresh("30s")
        .time("now-3h", "now")
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )


def api_overview() -> Dashboard:
    return (
        dashboard("thedata-api", "theData.io / API overview")
        .with_row(Row("Traffic and errors"))
        .with_panel(
            series(
                "Requests by route",
                "reqps",
                query("sum by (route) (thedata:http_requests:rate5m)", "{{route}}"),
            )
        )
        .with_panel(
            series(
                "Share of requests answered with a 5xx (objective: under 0.1 %)",
                "percentunit",
                query("thedata:http_errors:ratio_rate5m", "5 minutes"),
                query("thedata:http_errors:ratio_rate1h", "1 hour"),
            )
        )
        .with_row(Row("Latency"))
        .with_panel(
            series(
                "p99 by route",
                "s",
                query("thedata:http_request_duration_seconds:p99_5m", "{{route}}"),
            )
        )
        .with_panel(
            series(
                "Share of requests over 1 s (objective: under 1 %)",
                "percentunit",
                query("thedata:http_slow:ratio_rate5m", "5 minutes"),
                query("thedata:http_slow:ratio_rate1h", "1 hour"),
            )
        )
        .with_row(Row("Health and security"))
        .with_panel(
            series(
                "Readiness by component (0 pass, 1 warn, 2 fail)",
                "none",
                query("max by (component) (thedata_health_check_status)", "{{component}}"),
            )
        )
        .with_panel(
            series(
                "Refused credentials and rate-limit hits",
                "reqps",
                query(
                    "sum by (code) (rate(thedata_authentication_failures_total[5m]))",
                    "refused: {{code}}",
                ),
                query(
                    "sum by (code) (rate(thedata_rate_limited_requests_total[5m]))",
                    "limited: {{code}}",
                ),
            )
        )
        .with_panel(stat("API processes up", "none", query('sum(up{job="thedata-api"})')))
        .with_panel(
            stat("Version", "none", query("count by (version) (thedata_build_info)", "{{version}}"))
        )
    )


def runs() -> Dashboard:
    return (
        dashboard("thedata-runs", "theData.io / Runs and pipelines")
        .with_row(Row("The queue"))
        .with_panel(series("Runs queued", "none", query("max(thedata_run_queue_depth)", "queued")))
        .with_panel(
            series(
                "Longest wait in the queue",
                "s",
                query("max(thedata_run_queue_oldest_wait_seconds)", "oldest"),
            )
        )
        .with_row(Row("Runs"))
        .with_panel(
            series(
                "Runs queued and finished",
                "ops",
                query(
                    "sum by (trigger) (rate(thedata_runs_queued_total[5m]))", "queued: {{trigger}}"
                ),
                query("sum by (status) (rate(thedata_runs_finished_total[5m]))", "{{status}}"),
            )
        )
        .with_panel(
            series(
                "Share of runs failing",
                "percentunit",
                query("thedata:runs_failed:ratio_rate30m", "30 minutes"),
            )
        )
        .with_panel(
            series(
                "Attempt duration",
                "s",
                query(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(thedata_run_attempt_duration_seconds_bucket[15m])))",
                    "p50",
                ),
                query(
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(thedata_run_attempt_duration_seconds_bucket[15m])))",
                    "p95",
                ),
            )
        )
        .with_panel(
            series(
                "Rows written by connector kinds",
                "rowsps",
                query(
                    "sum by (source_kind, destination_kind) "
                    "(rate(thedata_run_rows_written_total[5m]))",
                    "{{source_kind}} → {{destination_kind}}",
                ),
            )
        )
        .with_panel(
            series(
                "Bytes written by connector kinds",
                "Bps",
                query(
                    "sum by (source_kind, destination_kind) "
                    "(rate(thedata_run_written_bytes_total[5m]))",
                    "{{source_kind}} → {{destination_kind}}",
                ),
            )
        )
        .with_panel(
            series(
                "Recoveries",
                "none",
                query("sum by (kind) (increase(thedata_run_recoveries_total[15m]))", "{{kind}}"),
            )
        )
        .with_panel(
            series(
                "Attempts started and ended",
                "ops",
                query("sum(rate(thedata_run_attempts_started_total[5m]))", "started"),
                query(
                    "sum by (status) (rate(thedata_run_attempts_ended_total[5m]))",
                    "ended: {{status}}",
                ),
            )
        )
    )


def database_pool() -> Dashboard:
    return (
        dashboard("thedata-database-pool", "theData.io / Database pool")
        .with_row(Row("Connections"))
        .with_panel(
            series(
                "Connections by state",
                "none",
                query(
                    "sum by (instance, state) (thedata_db_pool_connections)",
                    "{{instance}} {{state}}",
                ),
                query("sum by (instance) (thedata_db_pool_max_connections)", "{{instance}} max"),
            )
        )
        .with_panel(
            series(
                "Requests waiting for a connection",
                "none",
                query("sum by (instance) (thedata_db_pool_waiting_requests)", "{{instance}}"),
            )
        )
        .with_row(Row("Acquiring"))
        .with_panel(
            series(
                "Connections taken",
                "ops",
                query(
                    "sum by (instance) (rate(thedata_db_pool_acquires_total[5m]))", "{{instance}}"
                ),
            )
        )
        .with_panel(
            series(
                "Time waited per connection taken",
                "s",
                query(
                    "sum by (instance) (rate(thedata_db_pool_acquire_wait_seconds_total[5m]))"
                    " / clamp_min(sum by (instance)"
                    " (rate(thedata_db_pool_acquires_total[5m])), 1e-9)",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            series(
                "Timeouts and lost connections",
                "none",
                query(
                    "sum by (instance) (increase(thedata_db_pool_acquire_timeouts_total[5m]))",
                    "timeouts {{instance}}",
                ),
                query(
                    "sum by (instance) (increase(thedata_db_connections_lost_total[5m]))",
                    "lost {{instance}}",
                ),
            )
        )
    )


def breakers_and_retries() -> Dashboard:
    return (
        dashboard("thedata-breakers", "theData.io / Breakers and retries")
        .with_row(Row("Data sources"))
        .with_panel(
            series(
                "Open breakers by kind",
                "none",
                query("sum by (kind) (thedata_circuit_breakers_open)", "{{kind}}"),
            )
        )
        .with_panel(
            series(
                "Breaker changes",
                "none",
                query(
                    "sum by (kind, state)"
                    " (increase(thedata_circuit_breaker_transitions_total[15m]))",
                    "{{kind}} → {{state}}",
                ),
            )
        )
        .with_row(Row("Retries and secrets"))
        .with_panel(
            series(
                "Retries by operation",
                "none",
                query(
                    "sum by (operation, error_type) (increase(thedata_retries_total[15m]))",
                    "{{operation}}: {{error_type}}",
                ),
            )
        )
        .with_panel(
            series(
                "Secrets that did not decrypt",
                "none",
                query(
                    "sum by (reason) (increase(thedata_secret_decrypt_failures_total[15m]))",
                    "{{reason}}",
                ),
            )
        )
    )


DASHBOARDS = {
    "api-overview": api_overview,
    "runs": runs,
    "database-pool": database_pool,
    "breakers-and-retries": breakers_and_retries,
}


def rendered() -> dict[str, str]:
    """Each dashboard's file name and JSON text."""
    encoder = JSONEncoder(sort_keys=True, indent=2)
    return {
        f"{name}.json": encoder.encode(make().build()) + "\n" for name, make in DASHBOARDS.items()
    }


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")  # noqa: T201 - a command's report


if __name__ == "__main__":
    main()
