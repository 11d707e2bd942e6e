"""The monitoring stack in deploy/monitoring, checked by Prometheus' and Alertmanager's own
tools: configuration, rules, every alert's unit tests, and the runbook each alert names."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

import thedata.adapters.observability.run_metrics  # noqa: F401 - registers the run families
from tests.monitoring_tools import tool
from thedata.adapters.observability.metrics import exposition

ROOT = Path(__file__).parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "prometheus" / "rules"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_configuration_and_its_rules() -> None:
    checked = run(
        tool("promtool"), "check", "config", str(MONITORING / "prometheus" / "prometheus.yml")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_silent_as_its_unit_tests_say() -> None:
    tested = run(tool("promtool"), "test", "rules", str(RULES / "rules.test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_does_not() -> None:
    cases = yaml.safe_load((RULES / "rules.test.yml").read_text())["tests"]
    fired: set[str] = set()
    silent: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


def test_alertmanager_accepts_its_configuration() -> None:
    checked = run(
        tool("amtool"), "check-config", str(MONITORING / "alertmanager" / "alertmanager.yml")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_links_a_runbook_that_exists_and_every_runbook_serves_an_alert() -> None:
    linked = set()
    for rule in alerts():
        url = rule["annotations"].get("runbook_url", "")
        assert url.startswith("docs/runbooks/"), f"{rule['alert']} names no runbook"
        assert (ROOT / url).is_file(), f"{rule['alert']}: {url} does not exist"
        assert rule["labels"]["severity"] in {"page", "ticket"}
        linked.add(Path(url).name)
    pages = {p.name for p in (ROOT / "docs" / "runbooks").glob("*.md")} - {"README.md"}
    assert pages == linked, "runbooks no alert links"


def test_the_rules_read_only_metrics_the_service_exposes() -> None:
    """A misspelt metric in a rule would make its alert silent for ever."""
    exposed = {family.name for family in text_string_to_metric_families(exposition().decode())}
    texts = [(RULES / name).read_text() for name in ("alerts.yml", "recording.yml")]
    used = set(re.findall(r"\bthedata_[a-z_]+", "\n".join(texts)))
    suffixes = ("_total", "_bucket", "_count", "_sum")

    def family(name: str) -> str:
        for suffix in suffixes:
            if name.endswith(suffix) and name[: -len(suffix)] in exposed:
                return name[: -len(suffix)]
        return name

    assert {family(name) for name in used} - exposed == set()


def test_the_committed_dashboards_are_what_their_code_builds() -> None:
    """Dashboards are edited in dashboards.py only: regenerate with
    ``python deploy/monitoring/grafana/dashboards.py``."""
    spec = importlib.util.spec_from_file_location(
        "dashboards", MONITORING / "grafana" / "dashboards.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: dict[str, str] = module.rendered()
    committed = {
        p.name: p.read_text() for p in (MONITORING / "grafana" / "dashboards").glob("*.json")
    }
    assert committed == built
