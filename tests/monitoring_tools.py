"""Prometheus' own tools (Debian's prometheus and prometheus-alertmanager packages), which
the monitoring tests run: a skip where they are missing, a failure where CI requires them."""

from __future__ import annotations

import os
import shutil

import pytest


def tool(name: str) -> str:
    """The path of ``name`` (``promtool``, ``amtool``, ``prometheus``)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("THEDATA_REQUIRE_MONITORING_TOOLS") == "1":
            pytest.fail(f"{name} is not installed (Debian: prometheus, prometheus-alertmanager)")
        pytest.skip(f"{name} is not installed")
    return found
