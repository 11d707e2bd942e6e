"""Folders left from before per-organization data folders, so that an operator can move them.

Until per-organization folders, a ``file`` data source's path was relative to
the data root itself, shared by every organization. Such a data source now reads
``<data root>/<organization id>/<path>`` and, until its folder is moved there,
its check answers "no folder". Nothing is moved automatically: which organization
a shared folder belongs to is the operator's call (docs/connectors.md says how).
"""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

import structlog

log = structlog.get_logger("thedata.connectors")


def _is_organization(name: str) -> bool:
    try:
        return str(UUID(name)) == name
    except ValueError:
        return False


def shared_layout_entries(data_root: Path, most: int = 20) -> list[str]:
    """Entries of the data root that are not organization folders (at most ``most``)."""
    try:
        with os.scandir(data_root) as entries:
            names = [e.name for e in entries if not _is_organization(e.name)]
    except OSError:
        return []
    return sorted(names)[:most]


def warn_about_shared_layout(data_root: Path) -> None:
    """Log, once at start-up, the folders an operator has to move into organization folders."""
    names = shared_layout_entries(data_root)
    if names:
        log.warning(
            "the data root holds folders outside any organization's folder: file data sources "
            "now read <data root>/<organization id>/<path>; move each folder into the folder "
            "of the organization whose data source uses it (docs/connectors.md)",
            data_root=str(data_root),
            entries=names,
        )
