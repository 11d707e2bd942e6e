"""The API speed benchmark's table (medians over rounds) and its JSON record."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
APPS = ("service", "lean")


def _median(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)


def summarize(
    measured: dict[str, dict[str, list[dict[str, Any]]]],
    trips: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Per endpoint and app: medians of req/s (a trigger's: 202s only), p50, p99 and CPU per
    request; the largest peak RSS; round trips and parses per request."""
    summary: dict[str, dict[str, Any]] = {}
    for endpoint, by_app in measured.items():
        row: dict[str, Any] = {}
        for app in APPS:
            runs = by_app.get(app, [])
            if not runs:
                continue
            row[app] = {
                "rps": _median(runs, "ok_rps"),
                "rps_409": _median(runs, "conflict_rps"),
                "p50_ms": _median(runs, "p50_ms"),
                "p99_ms": _median(runs, "p99_ms"),
                "cpu_us": _median(runs, "cpu_us_per_request"),
                "peak_rss_mib": max(float(r["peak_rss_mib"]) for r in runs),
                "errors": sum(int(r["socket_errors"]) for r in runs),
                "unexpected": sum(int(r["unexpected"]) for r in runs),
                **trips.get(endpoint, {}).get(app, {}),
            }
        if len(row) == len(APPS):
            row["ratio"] = row["service"]["rps"] / row["lean"]["rps"]
        summary[endpoint] = row
    return summary


def table(summary: dict[str, dict[str, Any]]) -> str:
    head = (
        f"{'endpoint':<16} {'service':>8} {'lean':>8} {'ratio':>6}"
        f"  {'p50/p99 ms service':>19} {'lean':>13}  {'CPU µs/req':>11} {'lean':>6}"
        f"  {'RSS MiB':>8} {'lean':>5}  {'round trips':>11} {'lean':>5}  {'parses':>6} {'lean':>4}"
    )
    lines = [head, "-" * len(head)]
    for endpoint, row in summary.items():
        s, n = row.get("service"), row.get("lean")
        if s is None or n is None:
            continue
        nan = float("nan")
        lines.append(
            f"{endpoint:<16} {s['rps']:8,.0f} {n['rps']:8,.0f} {row['ratio']:6.2f}"
            f"  {s['p50_ms']:8.1f} / {s['p99_ms']:6.1f} {n['p50_ms']:5.1f} / {n['p99_ms']:5.1f}"
            f"  {s['cpu_us']:11,.0f} {n['cpu_us']:6,.0f}"
            f"  {s['peak_rss_mib']:8.0f} {n['peak_rss_mib']:5.0f}"
            f"  {s.get('round_trips', nan):11.2f} {n.get('round_trips', nan):5.2f}"
            f"  {s.get('parses', nan):6.2f} {n.get('parses', nan):4.2f}"
        )
    trigger = summary.get("trigger run", {})
    if "service" in trigger and "lean" in trigger:
        lines.append(
            "trigger run: req/s counts 202s only; 409s (a pipeline already has an active run,"
            f" once the list wrapped around): service {trigger['service']['rps_409']:,.0f}/s,"
            f" lean {trigger['lean']['rps_409']:,.0f}/s; p50/p99 and CPU cover both"
        )
    for endpoint, row in summary.items():
        for app in APPS:
            if app in row and (row[app]["errors"] or row[app]["unexpected"]):
                lines.append(
                    f"warning: {endpoint}, {app}: {row[app]['unexpected']} unexpected statuses,"
                    f" {row[app]['errors']} socket errors"
                )
    return "\n".join(lines)


def write(record: dict[str, Any], name: str = "api_speed") -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path
