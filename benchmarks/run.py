"""Benchmarks of the service as a user runs it: start-up, memory at rest, request throughput.

Run with ``./dev bench``. Machines here are shared and noisy, so every figure
comes with a baseline measured in the same run, and the ratio is what to compare
between runs:

- start-up: ``thedata serve`` until ``/health/ready`` passes, against the time
  the same interpreter takes just to import the app (the floor any start pays);
- memory: resident size of the API process at rest, against a bare interpreter;
- throughput (needs ``wrk``): ``/health/ready`` (one database round trip) and an
  authenticated ``GET /v1/users/me`` against ``/health/live`` (no I/O), at the
  same concurrency;
- password hashing: Argon2id at the configured (OWASP) parameters against the
  smallest parameters Argon2 allows, and a sign-in with an unknown email against
  one with a wrong password (they must cost the same);
- secrets: get and put on the PostgreSQL and file stores against the bare
  AES-GCM seal/open and a ``SELECT 1`` round trip, and the rotation rate
  against the put rate;
- concurrent data-source creates with a password on pools of 1 and 4
  connections, against the same creates without a password;
- log redaction: masking a logged string with 0 to 10,000 secrets known, and
  remembering one more, against the single regex it replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import psutil
import psycopg

from benchmarks.checks import bench_checks
from benchmarks.creates import bench_creates
from benchmarks.redaction import bench_redaction
from tests.conftest import free_port
from tests.identity import Identity
from thedata.adapters.postgres import (
    EmbeddedPostgres,
    PostgresMigrator,
    load_migrations,
    open_pool,
)
from thedata.adapters.secrets import (
    EncryptedFileSecretStore,
    KeyRing,
    PostgresSecretStore,
    SecretCipher,
)
from thedata.adapters.security import Argon2PasswordHasher
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.use_cases import RotateSecretKey
from thedata.domain.tokens import InvalidCredentials


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THEDATA_")}
    env |= {"THEDATA_HOME": str(home), "THEDATA_LOG_LEVEL": "warning"}
    return env


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local server
            return bool(response.status == 200)
    except OSError:
        return False


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``thedata serve``; return it, its base URL and the seconds until ready."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "thedata.entrypoints.cli", "serve", "--port", str(port)],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not ready(base + "/health/ready"):
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.01)
    return process, base, time.perf_counter() - started


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def import_time() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import thedata.entrypoints.asgi"],
        check=True,
        env=env_for(Path(tempfile.gettempdir())),
    )
    return time.perf_counter() - started


def bare_interpreter_rss() -> int:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    time.sleep(0.5)
    rss = psutil.Process(process.pid).memory_info().rss
    process.kill()
    process.wait()
    return int(rss)


def wrk(url: str, connections: int, seconds: int, token: str | None = None) -> float:
    header = ["-H", f"Authorization: Bearer {token}"] if token else []
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *header, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk run failed or saw errors:\n{output}")
    return float(match.group(1))


def register(base: str) -> str:
    """Sign up a benchmark user; its access token."""
    body = json.dumps(
        {"email": "bench@example.com", "password": "benchmark passphrase", "name": "Bench"}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - a local http URL of our own server
        base + "/v1/auth/register", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        token: str = json.load(response)["access_token"]
    return token


def bench_password_hashing(rounds: int) -> None:
    owasp, floor = Argon2PasswordHasher(), Argon2PasswordHasher(memory_kib=8, iterations=1)

    async def median_verify(hasher: Argon2PasswordHasher) -> float:
        encoded = await hasher.hash("benchmark passphrase")
        return statistics.median(
            await _time_each(rounds, lambda _: hasher.verify("benchmark passphrase", encoded))
        )

    async def wrong_sign_in(identity: Identity, email: str, n: int) -> None:
        with contextlib.suppress(InvalidCredentials):
            await identity.sign_in(email, "wrong passphrase!", f"10.0.{n}.1")

    async def run() -> None:
        at_owasp, at_floor = await median_verify(owasp), await median_verify(floor)
        print(f"password verify, Argon2id m=19 MiB t=2 p=1: {at_owasp * 1000:6.1f} ms")
        print(f"baseline: Argon2id m=8 KiB t=1 (minimum)  : {at_floor * 1000:6.1f} ms")
        print(f"ratio OWASP / minimum          : {at_owasp / at_floor:6.1f}")
        limit = 10 * rounds  # every wrong sign-in must reach the password check
        policy = IdentityPolicy(
            login_attempt_limit=limit, login_account_limit=limit, login_address_limit=limit
        )
        identity = Identity.in_memory(hasher=owasp, policy=policy)
        await identity.register("known@example.com", "benchmark passphrase", "Known")
        wrong, unknown = [
            statistics.median(await _time_each(rounds, partial(wrong_sign_in, identity, email)))
            for email in ("known@example.com", "nobody@example.com")
        ]
        print(f"sign-in, wrong password (median of {rounds}): {wrong * 1000:6.1f} ms (baseline)")
        print(f"sign-in, unknown email              : {unknown * 1000:6.1f} ms")
        print(f"ratio unknown / wrong          : {unknown / wrong:6.2f}")

    asyncio.run(run())


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def _time_each(count: int, action: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for n in range(count):
        start = time.perf_counter()
        await action(n)
        times.append(time.perf_counter() - start)
    return times


async def _put(
    store: PostgresSecretStore | EncryptedFileSecretStore, org: uuid.UUID, value: bytes, n: int
) -> None:
    await store.put(org, f"s/{n}", value)


async def _get(
    store: PostgresSecretStore | EncryptedFileSecretStore, org: uuid.UUID, n: int
) -> bytes:
    return await store.get(org, f"s/{n}")


def bench_with_database(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedPostgres(Path(folder) / "postgres")
        sources = EmbeddedPostgres(Path(folder) / "sources")
        url, source_url = server.start(), sources.start()
        try:
            asyncio.run(_bench_secrets(url, Path(folder), count))
            asyncio.run(bench_checks(url, source_url, Path(folder), 50))
            bench_creates(url, Path(folder), 6)
        finally:
            sources.stop()
            server.stop()


async def _bench_secrets(url: str, folder: Path, count: int) -> None:
    await PostgresMigrator(url, load_migrations(), connect_timeout=5).migrate()
    org = uuid.uuid4()
    with psycopg.connect(url) as connection:
        connection.execute("INSERT INTO organizations VALUES (%s, 'B', 'b', now(), now())", (org,))
    ring = KeyRing({1: os.urandom(32)}, 1)
    cipher, value = SecretCipher(ring), b"a database password of typical length"
    sealed = cipher.seal(org, "r", value)
    seal = [0.0] * count
    for n in range(count):
        start = time.perf_counter()
        cipher.seal(org, "r", value)
        seal[n] = time.perf_counter() - start
    opened = [0.0] * count
    for n in range(count):
        start = time.perf_counter()
        cipher.open(org, "r", sealed)
        opened[n] = time.perf_counter() - start
    print(f"baseline: AES-GCM seal / open  : {_median_us(seal):7.1f} / {_median_us(opened):.1f} µs")
    resource = open_pool(
        url,
        min_size=2,
        max_size=4,
        connect_timeout=5,
        statement_timeout=30,
        acquire_timeout=5,
        startup_timeout=5,
        reconnect_window=10,
    )
    pool = await anext(resource)
    try:

        async def select_one(_: int) -> None:
            async with pool.connection() as connection:
                await connection.execute("SELECT 1")

        round_trip = _median_us(await _time_each(count, select_one))
        print(f"baseline: pooled SELECT 1      : {round_trip:7.1f} µs")
        postgres = PostgresSecretStore(pool, cipher)
        stores: dict[str, PostgresSecretStore | EncryptedFileSecretStore] = {
            "postgres": postgres,
            f"file ({count} secrets)": EncryptedFileSecretStore(folder / "secrets.json", cipher),
        }
        for name, store in stores.items():
            put = _median_us(await _time_each(count, partial(_put, store, org, value)))
            get = _median_us(await _time_each(count, partial(_get, store, org)))
            print(f"secret put / get, {name:<20}: {put:7.1f} / {get:.1f} µs")
        for n in range(count, 10 * count):
            await postgres.put(org, f"s/{n}", value)
        put_start = time.perf_counter()
        for n in range(count):
            await postgres.put(org, f"p/{n}", value)
        put_rate = count / (time.perf_counter() - put_start)
        rotating = PostgresSecretStore(
            pool, SecretCipher(KeyRing({2: os.urandom(32), 1: ring.keys[1]}, 2))
        )
        start = time.perf_counter()
        report = await RotateSecretKey(rotating)(batch_size=100)
        rate = report.reencrypted / (time.perf_counter() - start)
        print(
            f"rotation, postgres, batch 100  : {rate:7.0f} secrets/s ({report.reencrypted} secrets)"
        )
        print(f"baseline: sequential puts      : {put_rate:7.0f} secrets/s")
        print(f"ratio rotation / puts          : {rate / put_rate:6.2f}")
    finally:
        await resource.aclose()


def bench_startup(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        process, _, cold = start_server(home)  # initdb happens here
        stop_server(process)
        warm_times = []
        for _ in range(rounds):
            process, _, seconds = start_server(home)
            stop_server(process)
            warm_times.append(seconds)
    imports = statistics.median(import_time() for _ in range(rounds))
    warm = statistics.median(warm_times)
    print(f"start-up, fresh home (initdb)  : {cold:6.2f} s")
    print(f"start-up, existing home (median of {rounds}): {warm:6.2f} s")
    print(f"baseline: import the app       : {imports:6.2f} s")
    print(f"ratio start-up / import        : {warm / imports:6.2f}")


def bench_memory_and_throughput(connections: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        process, base, _ = start_server(Path(folder) / "home")
        try:
            time.sleep(1)
            api_rss = psutil.Process(process.pid).memory_info().rss
            postgres_rss = sum(
                p.info["memory_info"].rss
                for p in psutil.process_iter(["name", "cmdline", "memory_info"])
                if p.info["name"] == "postgres" and folder in " ".join(p.info["cmdline"] or [])
            )
            bare = bare_interpreter_rss()
            print(f"idle RSS, API process          : {api_rss / 2**20:6.1f} MiB")
            print(f"idle RSS, embedded PostgreSQL  : {postgres_rss / 2**20:6.1f} MiB (all)")
            print(f"baseline: bare interpreter     : {bare / 2**20:6.1f} MiB")
            print(f"ratio API / bare interpreter   : {api_rss / bare:6.2f}")
            if shutil.which("wrk") is None:
                print("throughput: skipped (install wrk: apt-get install wrk)")
                return
            wrk(base + "/health/live", connections, 2)  # warm-up
            live = wrk(base + "/health/live", connections, seconds)
            ready_rps = wrk(base + "/health/ready", connections, seconds)
            print(f"throughput /health/live   (c={connections}): {live:8.0f} req/s (baseline)")
            print(f"throughput /health/ready  (c={connections}): {ready_rps:8.0f} req/s")
            print(f"ratio ready / live             : {ready_rps / live:6.2f}")
            token = register(base)
            for users_connections in sorted({connections, 64}):
                live = wrk(base + "/health/live", users_connections, seconds)
                me = wrk(base + "/v1/users/me", users_connections, seconds, token)
                label = f"(c={users_connections})"
                print(f"throughput /health/live   {label}: {live:8.0f} req/s (baseline)")
                print(f"throughput /v1/users/me   (c={users_connections}): {me:8.0f} req/s")
                print(f"ratio users/me / live          : {me / live:6.2f}")
        finally:
            stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="warm start-ups to time")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_password_hashing(20)
    bench_redaction(args.rounds)
    bench_with_database(200)
    bench_startup(args.rounds)
    bench_memory_and_throughput(args.connections, args.seconds)


if __name__ == "__main__":
    main()
