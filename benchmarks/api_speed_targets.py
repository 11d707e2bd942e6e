"""What the API speed benchmark loads: ``thedata serve`` and the lean app, as processes.

Both listen on loopback and serve from one process (the machine has two cores,
shared with wrk and PostgreSQL). The service runs as shipped: ``thedata serve
--no-worker`` with every default but the database and the key ring, the access
log on at info level in JSON (written to a file). The CPU seconds of a process
come from ``/proc/<pid>/stat`` (user + system), its peak RSS from ``VmHWM``
(reset through ``clear_refs`` before each measurement).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.lean_app import DATABASE_ENV
from tests.conftest import TEST_SECRET_KEYS, free_port

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


class Target:
    """A server process on a free loopback port, and what it spent."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.label = label
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=out,
            )

    def wait_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.label} exited at start-up:\n{self.log_tail()}")
            url = self.base + "/health/live"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{self.label} not live after {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime

    def wait_idle(self, timeout: float = 10) -> None:
        """Until the process spends (almost) no CPU: requests wrk left in flight are done."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.cpu_seconds()
            if now - before < 0.01:
                return
            before = now

    def reset_peak_rss(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def peak_rss_mib(self) -> float:
        return self.rss_mib("VmHWM")

    def rss_mib(self, field: str = "VmHWM") -> float:
        """The process's peak (``VmHWM``) or current (``VmRSS``) resident size."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("THEDATA_", "BENCH_", "OTEL_"))
    }


def service(
    folder: Path,
    database_url: str,
    label: str = "service",
    extra_env: dict[str, str] | None = None,
) -> Target:
    """``thedata serve --no-worker`` on ``database_url``, logging as in production (with
    ``extra_env`` on top)."""
    env = (
        _clean_env()
        | {
            "THEDATA_DATABASE_URL": database_url,
            "THEDATA_SECRET_KEYS": TEST_SECRET_KEYS,  # the seed's (file data sources hold none)
            "THEDATA_HOME": str(folder / "home"),
            "THEDATA_DATA_ROOT": str(folder / "data"),
            "THEDATA_LOG_FORMAT": "json",
            "THEDATA_LOG_LEVEL": "info",
        }
        | (extra_env or {})
    )
    command = [str(Path(sys.executable).parent / "thedata"), "serve", "--no-worker"]
    return Target(label, command, env, folder / f"{label}.log")


def lean(folder: Path, database_url: str, label: str = "lean") -> Target:
    """The lean app (``benchmarks.lean_app``) on ``database_url``."""
    env = _clean_env() | {DATABASE_ENV: database_url}
    return Target(
        label, [sys.executable, "-m", "benchmarks.lean_app"], env, folder / f"{label}.log"
    )


def wait_machine_quiet(timeout: float = 30, busy_cores: float = 0.3) -> tuple[float, bool]:
    """Until the machine's CPUs together are busy less than ``busy_cores`` cores' worth over
    half a second, or ``timeout``: what a load left behind is not charged to the next app
    measured. The seconds waited, and whether the wait timed out (a shared machine whose
    other tenants kept it busy)."""
    started = time.monotonic()
    before = _cpu_times()
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = _cpu_times()
        spent, total = now[0] - before[0], now[1] - before[1]
        if total > 0 and spent / total * _CORES < busy_cores:
            return time.monotonic() - started, False
        before = now
    return time.monotonic() - started, True


_CORES = os.cpu_count() or 1


def _cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU time so far, in ticks (``/proc/stat``): time stolen
    by the hypervisor counts as idle (nothing here used it), guest time is already in user
    time."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal
