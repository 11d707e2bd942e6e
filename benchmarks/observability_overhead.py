"""What metrics and tracing cost the API's authenticated GETs: on against off, in one run.

``python -m benchmarks.observability_overhead [--rounds 3] [--duration 15]
[--connections 64] [--threads 2] [--quick]`` copies the API speed benchmark's
seeded database (``benchmarks.api_speed_seed``; seeded once, kept as a template)
and starts four ``thedata serve --no-worker`` processes on it, as shipped but for:

- ``off``: ``THEDATA_METRICS=false`` and no tracing (the baseline);
- ``metrics``: the default (requests, pool and runs counted; ``/metrics`` served);
- ``metrics+tracing``: the default, and every request traced (the ``otel`` extra,
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` on a local receiver that answers each export, the
  default always-on sampler, a span queue large enough that no span is dropped, so
  the whole cost is counted: a server span per request, a client span per statement);
- ``metrics+tracing 10%``: the same, one trace in ten kept
  (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``).

Each round loads ``get pipeline`` and ``get run`` (a member's fresh access token per
organization, spread over 200) on the four, in an order that rotates every round,
with wrk; each load starts once the machine is nearly idle. Per load: req/s, p50/p99,
the server's CPU per request and peak RSS. The table gives medians and each variant's
req/s as a ratio of ``off``'s; a JSON record goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from benchmarks.api_speed import _one_load, _revision
from benchmarks.api_speed_load import add_load_options, quick_if_asked, require_wrk, write_requests
from benchmarks.api_speed_report import write
from benchmarks.api_speed_seed import PREFIX, copy_of, drop, ensure_template
from benchmarks.api_speed_targets import Target, service
from benchmarks.api_speed_workload import load, request_lines
from benchmarks.engine import DEFAULT_URL
from benchmarks.otlp_receiver import Receiver, otlp_receiver, tracing_env
from thedata.adapters.observability import configure_logging

ENDPOINTS = ("get pipeline", "get run")
VARIANTS = ("off", "metrics", "metrics+tracing", "metrics+tracing 10%")


def variants(folder: Path, url: str, receiver: str) -> dict[str, Target]:
    """The four services, started."""
    sampled = tracing_env(receiver) | {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    return {
        "off": service(folder, url, "off", extra_env={"THEDATA_METRICS": "false"}),
        "metrics": service(folder, url, "metrics"),
        "metrics+tracing": service(folder, url, "metrics+tracing", extra_env=tracing_env(receiver)),
        "metrics+tracing 10%": service(folder, url, "metrics+tracing-10", extra_env=sampled),
    }


def measure(
    folder: Path, url: str, files: dict[str, Path], args: argparse.Namespace, receiver: str
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Both endpoints on every variant, the order rotated each round."""
    apps = variants(folder, url, receiver)
    measured: dict[str, dict[str, list[dict[str, Any]]]] = {
        e: {v: [] for v in VARIANTS} for e in ENDPOINTS
    }
    try:
        for target in apps.values():
            target.wait_live()
        run_id = uuid.uuid4().hex[:6]
        for endpoint in ENDPOINTS:  # warm-up: imports, pools grown, statements prepared
            for target in apps.values():
                _one_load(target, files[endpoint], endpoint, args, args.warm_up, f"w{run_id}")
        for number in range(args.rounds):
            shift = number % len(VARIANTS)
            order = VARIANTS[shift:] + VARIANTS[:shift]
            for endpoint in ENDPOINTS:
                for name in order:
                    tag = f"r{run_id}{number}{name}"
                    result = _one_load(
                        apps[name], files[endpoint], endpoint, args, args.duration, tag
                    )
                    measured[endpoint][name].append(result)
                    print(
                        f"round {number + 1} {endpoint:<13} {name:<20}"
                        f" {result['ok_rps']:8,.0f} req/s  p99 {result['p99_ms']:6.1f} ms"
                        f"  {result['cpu_us_per_request']:6,.0f} µs CPU"
                        f"  (load {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
    finally:
        for target in apps.values():
            target.stop()
    return measured


def summarize(measured: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Medians per endpoint and variant; req/s as a ratio of ``off``'s, per round too."""
    summary: dict[str, Any] = {}
    for endpoint, by_variant in measured.items():
        row: dict[str, Any] = {}
        for name, runs in by_variant.items():
            row[name] = {
                "rps": statistics.median(r["ok_rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "cpu_us": statistics.median(r["cpu_us_per_request"] for r in runs),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                "unexpected": sum(int(r["unexpected"]) + int(r["socket_errors"]) for r in runs),
            }
        for name in VARIANTS[1:]:
            row[name]["ratio"] = row[name]["rps"] / row["off"]["rps"]
            row[name]["ratio_by_round"] = [
                on["ok_rps"] / off["ok_rps"]
                for on, off in zip(by_variant[name], by_variant["off"], strict=True)
            ]
        summary[endpoint] = row
    return summary


def table(summary: dict[str, Any]) -> str:
    head = (
        f"{'endpoint':<13} {'variant':<20} {'req/s':>8} {'ratio':>6} {'by round':>17}"
        f"  {'p50/p99 ms':>14}  {'CPU µs/req':>10}  {'RSS MiB':>7}"
    )
    lines = [head, "-" * len(head)]
    for endpoint, row in summary.items():
        for name in VARIANTS:
            v = row[name]
            ratio = f"{v['ratio']:6.2f}" if "ratio" in v else f"{'1':>6}"
            rounds = " ".join(f"{r:.2f}" for r in v.get("ratio_by_round", []))
            lines.append(
                f"{endpoint:<13} {name:<20} {v['rps']:8,.0f} {ratio} {rounds:>17}"
                f"  {v['p50_ms']:5.1f} / {v['p99_ms']:6.1f}  {v['cpu_us']:10,.0f}"
                f"  {v['peak_rss_mib']:7.0f}"
            )
            if v["unexpected"]:
                lines.append(f"  warning: {v['unexpected']} unexpected statuses or socket errors")
    return "\n".join(lines)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_options(parser)
    return quick_if_asked(parser.parse_args())


def main() -> None:
    args = _arguments()
    require_wrk()
    configure_logging(log_format="console", level="warning")
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    folder = Path(tempfile.mkdtemp(prefix="thedata_bench_observability_"))
    record: dict[str, Any] = {
        "benchmark": "observability_overhead",
        "arguments": vars(args),
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "revision": _revision(),
    }
    print(f"commit {record['revision']['commit']}, load average {os.getloadavg()[0]:.2f}")
    template, _ = ensure_template(server, folder / "seed-data")
    copy = f"{PREFIX}observability_{os.getpid()}"
    url, _ = copy_of(server, template, copy)
    try:
        workload = load(url, folder / "data")
        lines = request_lines(workload)
        files = {e: write_requests(folder, e.replace(" ", "_"), lines[e]) for e in ENDPOINTS}
        with otlp_receiver() as receiver:
            measured = measure(folder, url, files, args, receiver)
        record["otlp_exports"] = Receiver.exports
        record["otlp_bytes"] = Receiver.received_bytes
    finally:
        drop(server, copy)
        shutil.rmtree(folder, ignore_errors=True)
    summary = summarize(measured)
    record |= {"load_average_after": os.getloadavg(), "measured": measured, "summary": summary}
    print(
        f"\nmedians of {args.rounds} round(s), wrk -t{args.threads} -c{args.connections}"
        f" -d{args.duration:g}s; ratio = variant / off req/s"
    )
    print(table(summary))
    print(
        f"traces received: {Receiver.exports:,} exports, {Receiver.received_bytes / 2**20:,.1f}"
        f" MiB; record: {write(record, 'observability_overhead')}"
    )


if __name__ == "__main__":
    main()
