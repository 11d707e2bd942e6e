"""The image the Dockerfile builds, built and run as docs/deployment.md says, where a
container runtime answers (``docker info``); skipped, with the reason, where none does.

Without a runtime the Dockerfile and deploy/docker-compose.yml are still checked, and the
Dockerfile linted, by tests/unit/test_deployment_files.py; nothing of that is repeated here.
The containers use the host's network so that they reach the test's PostgreSQL on
loopback and the test reaches them on loopback, and nothing else.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import TEST_SECRET_KEYS, free_port
from tests.integration.test_cli import ROOT, get
from tests.integration.test_deployment_guide import at_home, base_env, block, shell

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PAGE_TAG = "thedata:local"


def runtime_problem() -> str | None:
    """Why no container runtime answers here, or None when one does."""
    try:
        info = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        return "no container runtime: the docker CLI is not installed"
    except subprocess.TimeoutExpired:
        return "no container runtime: docker info did not answer within 30 s"
    if info.returncode != 0:
        lines = [line.strip() for line in (info.stderr or info.stdout).splitlines() if line.strip()]
        return (
            f"no container runtime: docker info failed: {lines[-1] if lines else info.returncode}"
        )
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The image, built by the page's own `docker build` line under a tag of this run."""
    problem = runtime_problem()
    if problem is not None:
        pytest.skip(problem)
    tag = f"thedata-test:{uuid.uuid4().hex[:8]}"
    build = block("image").splitlines()[0].replace(PAGE_TAG, tag)
    assert build.startswith("docker build")
    # a first build downloads the base image and the dependencies
    shell(build, ROOT, base_env(), timeout=1800)
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)


def docker_run(tag: str, name: str, *args: str, env: dict[str, str]) -> list[str]:
    """``docker run`` of ``tag`` on the host's network with ``env`` as its settings."""
    settings = [option for key, value in env.items() for option in ("-e", f"{key}={value}")]
    return ["docker", "run", "--name", name, "--network", "host", *settings, tag, *args]


def test_the_image_checks_the_pages_configuration(image: str, tmp_path: Path) -> None:
    """The page's `docker run … config check`: the .env and key file of the host, mounted
    at the same path, pass inside the container."""
    home = tmp_path / "srv"
    home.mkdir()
    (home / ".env").write_text(at_home(block("env-file"), home) + "\n")
    shell(at_home(block("first-key"), home), tmp_path, base_env())
    check = "\n".join(block("image").splitlines()[1:]).replace(PAGE_TAG, image)
    result = shell(at_home(check, home), tmp_path, base_env())
    assert result.stdout.startswith("configuration is valid"), result.stdout


def test_the_image_migrates_then_serves_and_works(image: str, database_url: str) -> None:
    """`migrate`, then `serve --no-worker --workers 2` and `worker` from the image against a
    real PostgreSQL: /health/live is 200 and /health/ready answers with a verdict."""
    host = str(conninfo_to_dict(database_url).get("host") or "")
    if not host.startswith("127.") and host != "localhost":
        pytest.skip(
            "the containers reach PostgreSQL over loopback TCP only (set "
            "THEDATA_TEST_DATABASE_URL to a server on 127.0.0.1)"
        )
    port = free_port()
    env = {
        "THEDATA_DATABASE_URL": database_url,
        "THEDATA_SECRET_KEYS": TEST_SECRET_KEYS,
        "THEDATA_MIGRATE_ON_START": "false",
        "THEDATA_HOST": "127.0.0.1",
        "THEDATA_PORT": str(port),
    }
    run = uuid.uuid4().hex[:8]
    names = [f"thedata-test-{part}-{run}" for part in ("migrate", "api", "worker")]
    try:
        migrated = subprocess.run(
            docker_run(image, names[0], "migrate", env=env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert "applied 0001_identity.sql" in migrated.stdout
        for name, command in zip(
            names[1:], (["serve", "--no-worker", "--workers", "2"], ["worker"]), strict=True
        ):
            started = subprocess.run(
                ["docker", "run", "--detach", *docker_run(image, name, *command, env=env)[2:]],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert started.returncode == 0, started.stderr
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                live = get(base + "/health/live")[0]
                if live == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, logs(names[1])
            time.sleep(0.5)
        status, headers, _ = get(base + "/health/ready")
        assert status in (200, 503)
        assert headers["content-type"].startswith("application/health+json")
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


def logs(name: str) -> str:
    """What a container wrote, for a failure's message."""
    result = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    return result.stdout + result.stderr
