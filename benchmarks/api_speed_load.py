"""The load of the API speed benchmark: wrk with a Lua script, or requests one at a time.

A request list is a file of lines ``METHOD<TAB>path<TAB>token<TAB>body``; a
body may hold one ``%s``, replaced by a name unique to the request (creates
need unique names). Each wrk thread walks the list from its own offset, one
line after another, so a trigger list of distinct pipelines triggers each once
before it wraps around. The script prints wrk's count, duration, errors and
latency percentiles, and the count of each status (``response()`` is only
defined when statuses are asked for: wrk then parses every response for it).
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

LUA = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[2])
  tag = args[3]
  counter = 0
  statuses = {}
  items = {}
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    if body ~= "" then headers["Content-Type"] = "application/json" end
    table.insert(items, {method, path, headers, body})
  end
end

function request()
  local item = items[(counter * nthreads + id) % #items + 1]
  counter = counter + 1
  local body = item[4]
  if body == "" then
    if item[1] == "GET" then body = nil end
  elseif body:find("%%s") then
    body = string.format(body, tag .. "-" .. id .. "-" .. counter)
  end
  return wrk.format(item[1], item[2], item[3], body)
end

if os.getenv("WRK_STATUSES") == "1" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
  local counts = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do counts[status] = (counts[status] or 0) + n end
  end
  for status, n in pairs(counts) do io.write(string.format("STATUS %d %d\n", status, n)) end
end
"""

INSTALL_HINT = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), brew install wrk"


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """The options every wrk benchmark takes: rounds, load shape, warm-up and a smoke run."""
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15, help="seconds of wrk per load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warm-up", type=float, default=2, help="seconds of wrk before round 1")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 3 s")


def quick_if_asked(args: argparse.Namespace) -> argparse.Namespace:
    """``--quick``: one round of 3 s after 1 s of warm-up."""
    if args.quick:
        args.rounds, args.duration, args.warm_up = 1, 3, 1
    return args


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(INSTALL_HINT)


def write_requests(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / f"{name}.requests"
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(
    base: str,
    requests: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    tag: str,
    statuses: bool,
) -> dict[str, Any]:
    """One wrk run: requests, req/s, p50/p99 (ms), errors, and statuses when asked."""
    script = requests.parent / "api_speed.lua"
    if not script.exists():
        script.write_text(LUA)
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds only
    command = ["wrk", f"-t{threads}", f"-c{connections}", duration, "--timeout", "10s"]
    command += ["-s", str(script), base, "--", str(requests), str(threads), tag]
    env = {"PATH": "/usr/bin:/bin", "WRK_STATUSES": "1" if statuses else "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    match = re.search(r"^RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    count, micros, connect, read, write, status, timeout, p50, p99 = map(int, match[1].split())
    codes = {
        int(code): int(n) for code, n in re.findall(r"^STATUS (\d+) (\d+)$", done.stdout, re.M)
    }
    return {
        "requests": count,
        "seconds": micros / 1e6,
        "rps": count / (micros / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "socket_errors": connect + read + write + timeout,
        "non_2xx": status,
        "statuses": codes,
    }


def _send(connection: http.client.HTTPConnection, line: str, name: str) -> tuple[int, bytes]:
    method, path, token, body = line.split("\t", 3)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body:
        headers["Content-Type"] = "application/json"
        body = body.replace("%s", name)
    connection.request(method, path, body=body.encode() if body else None, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def _connect(base: str) -> http.client.HTTPConnection:
    host, port = base.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def answer(base: str, line: str, name: str) -> tuple[int, bytes]:
    """One request of a list: its status and body."""
    connection = _connect(base)
    try:
        return _send(connection, line, name)
    finally:
        connection.close()


def sequential(
    base: str, lines: list[str], count: int, tag: str, *, start: int = 0
) -> Counter[int]:
    """``count`` requests of the list from ``start``, one at a time on one kept-alive
    connection; how many got each status."""
    connection = _connect(base)
    statuses: Counter[int] = Counter()
    try:
        for n in range(start, start + count):
            status, _ = _send(connection, lines[n % len(lines)], f"{tag}-{n}")
            statuses[status] += 1
    finally:
        connection.close()
    return statuses
