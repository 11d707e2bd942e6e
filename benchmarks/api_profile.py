"""Where a request's time goes: ``thedata serve`` profiled with py-spy under wrk load.

``python -m benchmarks.api_profile [--endpoint "get pipeline"] [--seconds 15]
[--connections 64] [--top 40]`` copies the seeded database of
``benchmarks.api_speed`` (seeding it first if needed), starts the service (or,
with ``--app lean``, the lean app) on it as that benchmark does, loads one
endpoint with wrk while py-spy samples the server (``--nonblocking``, 250 Hz), and
prints the functions with the most samples, by
own time and by time including callees, as shares of all samples. The raw
profile (speedscope JSON) is kept beside the results of ``api_speed``. Needs
``py-spy`` (``pip install py-spy``) and may need ``ptrace`` permission (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.api_speed_load import require_wrk, write_requests, wrk
from benchmarks.api_speed_report import RESULTS
from benchmarks.api_speed_seed import PREFIX, copy_of, drop, ensure_template
from benchmarks.api_speed_targets import lean, service
from benchmarks.api_speed_workload import ENDPOINTS, load, request_lines
from benchmarks.engine import DEFAULT_URL
from benchmarks.otlp_receiver import otlp_receiver, tracing_env
from thedata.adapters.observability import configure_logging


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="get pipeline", choices=ENDPOINTS)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--app", choices=("service", "lean"), default="service")
    parser.add_argument(
        "--traced",
        type=float,
        metavar="RATIO",
        help="the service traces, keeping this share of traces (1: every one; otel extra)",
    )
    return parser.parse_args()


def _shares(profile: dict[str, Any]) -> tuple[Counter[str], Counter[str], int]:
    """Samples per function: where they were (own) and under it (total), and all samples."""
    frames = [
        f"{f['name']} ({Path(f['file']).name}:{f['line']})" for f in profile["shared"]["frames"]
    ]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for timeline in profile["profiles"]:
        for stack, weight in zip(timeline["samples"], timeline["weights"], strict=True):
            samples += weight
            if stack:
                own[frames[stack[-1]]] += weight
            for name in {frames[i] for i in stack}:
                total[name] += weight
    return own, total, samples


def main() -> None:
    args = _arguments()
    require_wrk()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is missing: pip install py-spy")
    configure_logging(log_format="console", level="warning")
    server = os.environ.get("THEDATA_BENCH_DATABASE_URL", DEFAULT_URL)
    folder = Path(tempfile.mkdtemp(prefix="thedata_bench_profile_"))
    template, _ = ensure_template(server, folder / "seed-data")
    url, _ = copy_of(server, template, f"{PREFIX}profile_{os.getpid()}")
    target = None
    stack = contextlib.ExitStack()
    try:
        workload = load(url, folder / "data")
        requests = write_requests(folder, "profiled", request_lines(workload)[args.endpoint])
        if args.app == "lean":
            target = lean(folder, url)
        else:
            env = None
            if args.traced is not None:
                env = tracing_env(stack.enter_context(otlp_receiver())) | {
                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                    "OTEL_TRACES_SAMPLER_ARG": str(args.traced),
                }
            target = service(folder, url, extra_env=env)
        target.wait_live()
        wrk(target.base, requests, seconds=3, connections=args.connections, threads=2,
            tag="warm", statuses=False)  # fmt: skip
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        raw = RESULTS / f"api_profile-{args.endpoint.replace(' ', '_')}-{stamp}.json"
        record = [spy, "record", "--pid", str(target.process.pid), "--rate", "250", "--nonblocking"]
        record += ["--format", "speedscope", "--output", str(raw)]
        record += ["--duration", str(int(args.seconds))]
        with subprocess.Popen(
            record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        ) as sampling:
            loaded = wrk(target.base, requests, seconds=args.seconds, connections=args.connections,
                         threads=2, tag="profiled", statuses=False)  # fmt: skip
            _, errors = sampling.communicate(timeout=args.seconds + 30)
        if not raw.exists():
            raise SystemExit(f"py-spy recorded nothing: {errors.decode()[-2000:]}")
        own, total, samples = _shares(json.loads(raw.read_text()))
    finally:
        if target is not None:
            target.stop()
        stack.close()
        drop(server, f"{PREFIX}profile_{os.getpid()}")
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.endpoint}: {loaded['rps']:.0f} req/s under the profiler; {samples} samples")
    for title, counts in (("own time", own), ("with callees", total)):
        print(f"\n{title}:")
        for name, weight in counts.most_common(args.top):
            print(f"  {100 * weight / samples:5.1f} %  {name}")
    print(f"\nraw profile (speedscope): {raw}")


if __name__ == "__main__":
    main()
