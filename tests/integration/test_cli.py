"""The ``thedata`` command as a user runs it: real processes, real signals, real sockets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_SECRET_KEYS, free_port

ROOT = Path(__file__).parents[2]
THEDATA = [sys.executable, "-m", "thedata.entrypoints.cli"]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def clean_env(**variables: str) -> dict[str, str]:
    """The current environment without THEDATA_* settings, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
    # an external database needs a key ring; tests of its absence set this to ""
    env["THEDATA_SECRET_KEYS"] = TEST_SECRET_KEYS
    env.update(variables)
    return env


def run(args: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*THEDATA, *args],
        cwd=cwd,
        env=clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_ready(
    base: str, process: subprocess.Popen[str], within: float = 60, probe: str = "/health/ready"
) -> None:
    """Until ``probe`` answers 200 (fails if the server exits or ``within`` passes)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited early:\n{process.stderr.read() if process.stderr else ''}"
            )
        try:
            if get(base + probe)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server never answered {probe} with 200")


def test_config_check_accepts_a_valid_configuration(tmp_path: Path) -> None:
    """A valid configuration exits 0 and names the database without its password."""
    result = run(
        ["config", "check"], tmp_path, THEDATA_DATABASE_URL="postgresql://app:hunter2@db:5432/x"
    )
    assert result.returncode == 0
    assert "db:5432/x" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_a_stale_multiprocess_metrics_folder_in_the_environment_stops_nothing(
    tmp_path: Path,
) -> None:
    """PROMETHEUS_MULTIPROC_DIR left over from an earlier `serve --workers N`, naming a
    folder since removed: commands run (their metrics kept in memory), no traceback."""
    result = run(
        ["config", "check"],
        tmp_path,
        THEDATA_DATABASE_URL="postgresql://app:hunter2@db:5432/x",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "removed"),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_rejects_a_bad_value_in_one_line(tmp_path: Path) -> None:
    """An invalid value exits 2 with a single line naming the variable, no traceback."""
    result = run(["config", "check"], tmp_path, THEDATA_PORT="eighty")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "thedata: invalid configuration: THEDATA_PORT: expected `int`, got `str`"
    ]


def test_serve_refuses_to_start_on_a_bad_configuration(tmp_path: Path) -> None:
    """The server validates before doing anything: same line, same exit code."""
    result = run(["serve"], tmp_path, THEDATA_LOG_FORMAT="yaml")
    assert result.returncode == 2
    assert "THEDATA_LOG_FORMAT" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_docs_prints_the_committed_reference(tmp_path: Path) -> None:
    """`thedata config docs` is what docs/configuration.md holds."""
    result = run(["config", "docs"], tmp_path)
    assert result.returncode == 0
    assert result.stdout == (ROOT / "docs" / "configuration.md").read_text()


def test_migrate_brings_a_database_up_to_date(database_url: str, tmp_path: Path) -> None:
    """`thedata migrate` on an empty database records the schema history and says so."""
    result = run(["migrate"], tmp_path, THEDATA_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    again = run(["migrate"], tmp_path, THEDATA_DATABASE_URL=database_url)
    assert "the database schema is up to date" in again.stdout


def test_migrate_against_a_dead_database_fails_readably(tmp_path: Path) -> None:
    """No database: exit 1 with one line saying so, not a driver traceback."""
    result = run(
        ["migrate"],
        tmp_path,
        THEDATA_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        THEDATA_LOG_LEVEL="error",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "thedata: the database is unavailable"
    assert "Traceback" not in result.stderr


@pytest.fixture
def server_home(tmp_path: Path) -> Iterator[Path]:
    """A THEDATA_HOME; any embedded PostgreSQL left running in it fails the test afterwards."""
    yield tmp_path
    leftovers = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "name", "cmdline"])
        if p.info["name"] == "postgres" and str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, "the embedded PostgreSQL outlived the server"


def serve(home: Path, *args: str, **variables: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [*THEDATA, "serve", "--port", str(port), *args],
        cwd=home,
        env=clean_env(THEDATA_HOME=str(home / "state"), THEDATA_LOG_FORMAT="json", **variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]]]:
    """SIGTERM the server; return its exit code and its log lines (each must be JSON)."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, [json.loads(line) for line in stderr.splitlines() if line]


def test_serve_on_a_fresh_machine_starts_an_embedded_database_and_stops_it(
    server_home: Path,
) -> None:
    """The quick start: no configuration, a ready API, and SIGTERM leaves nothing running."""
    process, base = serve(server_home)
    try:
        wait_ready(base, process)
        status, headers, _ = get(base + "/health/live")
        assert status == 200
        assert headers["x-request-id"]
    finally:
        code, lines = stop(process)
    assert code == 0
    events = [line["event"] for line in lines]
    assert "embedded postgres started" in events
    assert "database pool closed" in events
    assert "embedded postgres released" in events
    access = [line for line in lines if line["logger"] == "thedata.access"]
    assert {"method", "route", "status", "duration_ms", "request_id"} <= access[-1].keys()


def test_serve_with_several_workers_shares_one_embedded_database(server_home: Path) -> None:
    """--workers N: N processes serve; the embedded database outlives them and stops last."""
    process, base = serve(server_home, "--workers", "2")
    try:
        wait_ready(base, process)
        assert get(base + "/health/ready")[0] == 200
        with ThreadPoolExecutor(8) as pool:  # at once, so that both workers answer some
            assert set(pool.map(lambda _: get(base + "/health/live")[0], range(200))) == {200}
        # whichever worker answers a scrape counts every worker's requests
        scrapes = [metric_samples(get(base + "/metrics")[2]) for _ in range(6)]
        time.sleep(0.5)  # the last scrape's own count is written after its answer
        last = metric_samples(get(base + "/metrics")[2])
    finally:
        code, lines = stop(process)
    assert code == 0
    live = ("thedata_http_requests_total", "GET", "/health/live", "2xx")
    earlier_scrapes = ("thedata_http_requests_total", "GET", "/metrics", "2xx")
    assert [scrape[live] for scrape in scrapes] == [200] * 6
    # a request is counted just after its answer: the scrape right after it, in the other
    # process, may not see it yet (a machine under load), the one after that does
    seen = [scrape.get(earlier_scrapes, 0) for scrape in scrapes]
    assert seen == sorted(seen)
    assert all(n - 1 <= count <= n for n, count in enumerate(seen))
    assert last[earlier_scrapes] == 6
    # the parent migrated once; the workers must not do it again
    assert "migrations checked" not in [line["event"] for line in lines]


def metric_samples(text: bytes) -> dict[tuple[str, ...], float]:
    """A scrape's samples of HTTP requests by (name, method, route, status class)."""
    return {
        (
            sample.name,
            *(sample.labels[k] for k in ("method", "route", "status_class")),
        ): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == "thedata_http_requests_total"
    }


def test_a_worker_serves_its_metrics_on_the_port_set(database_url: str, tmp_path: Path) -> None:
    """``thedata worker`` has no API: its metrics (its database pool's, retries, the build)
    are on THEDATA_WORKER_METRICS_PORT."""
    port = free_port()
    process = subprocess.Popen(
        [*THEDATA, "worker"],
        cwd=tmp_path,
        env=clean_env(
            THEDATA_DATABASE_URL=database_url,
            THEDATA_HOME=str(tmp_path / "state"),
            THEDATA_WORKER_METRICS_PORT=str(port),
            THEDATA_LOG_FORMAT="json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = get(f"http://127.0.0.1:{port}/metrics")
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the worker never served its metrics"
                time.sleep(0.1)
    finally:
        code, _ = stop(process)
    assert code == 0
    assert status == 200
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"thedata_build_info", "thedata_db_pool_max_connections"} <= names


def test_a_worker_whose_metrics_port_is_taken_stops_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    """A port another process holds is a configuration mistake: said in one line naming the
    setting, exit 1, no traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(
            ["worker"],
            tmp_path,
            THEDATA_DATABASE_URL=database_url,
            THEDATA_HOME=str(tmp_path / "state"),
            THEDATA_WORKER_METRICS_PORT=str(port),
            THEDATA_LOG_LEVEL="error",
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port} (THEDATA_WORKER_METRICS_PORT)" in (
        result.stderr
    )


def test_bytes_that_are_not_http_get_a_problem_with_a_request_id(
    database_url: str, tmp_path: Path
) -> None:
    """The HTTP parser's own 400 is a problem detail with X-Request-ID, like every answer."""
    process, base = serve(tmp_path, THEDATA_DATABASE_URL=database_url, THEDATA_LOG_LEVEL="error")
    try:
        wait_ready(base, process)
        port = int(base.rsplit(":", 1)[1])
        for garbage in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(garbage)
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:])
            assert lines[0] == "HTTP/1.1 400 Bad Request"
            assert headers["content-type"] == "application/problem+json"
            problem = json.loads(body)
            assert problem["status"] == 400
            assert problem["request_id"] == headers["x-request-id"]
            assert problem["type"].endswith("/malformed-request")
    finally:
        stop(process)


def test_serve_against_an_external_database_migrates_it(database_url: str, tmp_path: Path) -> None:
    """With THEDATA_DATABASE_URL set no embedded server starts, and start-up migrates."""
    process, base = serve(tmp_path, THEDATA_DATABASE_URL=database_url)
    try:
        wait_ready(base, process)
    finally:
        code, lines = stop(process)
    assert code == 0
    assert "embedded postgres started" not in [line["event"] for line in lines]
    assert not (tmp_path / "state").exists()


def test_serve_with_an_unreachable_database_fails_in_one_line(tmp_path: Path) -> None:
    """Start-up gives a database its grace period, then stops with a line saying why."""
    result = run(
        ["serve", "--port", str(free_port())],
        tmp_path,
        THEDATA_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        THEDATA_DB_STARTUP_TIMEOUT="1",
        THEDATA_DB_CONNECT_TIMEOUT="1",
        THEDATA_LOG_LEVEL="error",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["thedata: the database is unavailable"]


def post_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    request = urllib.request.Request(  # noqa: S310 - local test server
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test server
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_serve_keys_sign_in_limits_on_the_peer_whatever_x_forwarded_for_says(
    database_url: str, tmp_path: Path
) -> None:
    """Unless THEDATA_CLIENT_ADDRESS_HEADER names a header, the client is the peer: a guesser
    on loopback cannot make each guess look like another address with X-Forwarded-For."""
    with three_guesses_allowed(database_url, tmp_path) as (base, email):
        guesses = [
            post_json(
                base + "/v1/auth/token",
                {"email": email, "password": "wrong password"},
                {"X-Forwarded-For": f"203.0.113.{n}"},
            )
            for n in range(4)
        ]
    assert guesses == [401, 401, 401, 429]


@contextmanager
def three_guesses_allowed(
    database_url: str, tmp_path: Path, **variables: str
) -> Iterator[tuple[str, str]]:
    """A ``thedata serve`` allowing 3 wrong passwords per account and client, and a fresh
    account on it: the server's base URL and the account's email."""
    process, base = serve(
        tmp_path,
        THEDATA_DATABASE_URL=database_url,
        THEDATA_LOGIN_ATTEMPT_LIMIT="3",
        THEDATA_PASSWORD_HASH_MEMORY_KIB="8",
        THEDATA_PASSWORD_HASH_ITERATIONS="1",
        **variables,
    )
    email = f"ada-{os.urandom(4).hex()}@x.io"
    try:
        wait_ready(base, process)
        account = {"email": email, "password": "a long enough password", "name": "Ada"}
        assert post_json(base + "/v1/auth/register", account, {}) == 201
        yield base, email
    finally:
        stop(process)


def sign_in_through_a_proxy(base: str, email: str, forwarded_lines: list[str]) -> int:
    """A wrong sign-in whose ``X-Forwarded-For`` comes as separate header lines, as a proxy
    that adds its own line (HAProxy's ``option forwardfor``) sends it."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        body = json.dumps({"email": email, "password": "wrong password"})
        connection.putrequest("POST", "/v1/auth/token")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        for line in forwarded_lines:
            connection.putheader("X-Forwarded-For", line)
        connection.endheaders(body.encode())
        return connection.getresponse().status
    finally:
        connection.close()


def test_behind_a_proxy_the_client_is_the_last_address_of_every_forwarded_line(
    database_url: str, tmp_path: Path
) -> None:
    """A client's own X-Forwarded-For line comes first: it cannot name another client."""
    header = {"THEDATA_CLIENT_ADDRESS_HEADER": "X-Forwarded-For"}
    with three_guesses_allowed(database_url, tmp_path, **header) as (base, email):
        guesses = [
            sign_in_through_a_proxy(base, email, [f"10.9.8.{n}", "203.0.113.9:5{n}000"])
            for n in range(4)
        ]
    assert guesses == [401, 401, 401, 429]


def test_the_readme_example_of_a_bad_setting_stops_as_shown(tmp_path: Path) -> None:
    """README's Configuration example, run as written: the one line it shows, exit 2."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    command, shown = block[0].removeprefix("$ "), block[1:]
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        env=clean_env(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == shown
