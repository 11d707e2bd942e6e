"""The ``file`` kind's config: a folder, relative to the organization's data folder."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

import msgspec

from thedata.domain.errors import FieldError

if TYPE_CHECKING:
    from thedata.adapters.connectors.kind import Environment

NAME_MAX = 255  # bytes in one file or folder name (Linux, macOS); longer is ENAMETOOLONG
LEADS_OUT = "leads outside the organization's data folder (through a symbolic link)"


class FileConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A folder of CSV or JSON Lines files in the organization's data folder.

    ``path`` is relative to ``<THEDATA_DATA_ROOT>/<organization id>/`` (``.`` is
    that folder itself); ``..``, absolute paths and symbolic links leading out
    are refused.
    """

    path: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    format: Literal["csv", "jsonl"]


SECRET_FIELDS: tuple[str, ...] = ()
TARGET_FIELDS = ("path",)


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a folder in an organization's data folder (``None``: it can)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return "must not contain control characters"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    if path.startswith("/"):
        return "must be relative to the organization's data folder"
    parts = PurePosixPath(path).parts
    if ".." in parts:
        return "must not contain '..'"
    if any(len(part.encode("utf-8")) > NAME_MAX for part in parts):
        return f"each folder name must be at most {NAME_MAX} bytes"
    return None


def inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both absolute, symlinks resolved)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def config_problems(
    environment: Environment, organization_id: UUID, config: FileConfig
) -> list[FieldError]:
    """A path that cannot be in the organization's folder, or that a symlink leads out of."""
    problem = path_problem(config.path)
    if problem is not None:
        return [FieldError("/path", problem)]
    root = os.path.realpath(environment.organization_root(organization_id))
    # what exists of the path now, symlinks resolved; the connector checks again on every open
    if not inside(os.path.realpath(Path(root, config.path)), root):
        return [FieldError("/path", LEADS_OUT)]
    return []
