"""Opening an organization's folder and its files so that nothing leads out of it.

Every folder and file is opened first and judged after: the kernel says where
the open descriptor really is (``/proc/self/fd``, or ``F_GETPATH`` on macOS),
with every symlink resolved, and it must lie in the organization's folder. A
symlink swapped in between a check and an open therefore cannot escape: there
is no check before the open to race with.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from thedata.adapters.connectors.file.config import LEADS_OUT, inside
from thedata.adapters.connectors.work import Budget
from thedata.application.errors import ConnectorFailed, ConnectorMisconfigured
from thedata.domain.errors import FieldError

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# non-blocking, so that a FIFO named like a data file cannot hang the open
_FILE = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)


def _misconfigured(message: str) -> ConnectorMisconfigured:
    return ConnectorMisconfigured(message, [FieldError("/config/path", message)])


def folder_error(error: OSError, path: str) -> ConnectorMisconfigured | ConnectorFailed:
    """What an error opening the configured folder means, without the server's paths."""
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return _misconfigured(f"no folder {path!r} in the organization's data folder")
    if error.errno in (errno.EACCES, errno.EPERM):
        return _misconfigured(f"the folder {path!r} is not readable by the service")
    if error.errno in (errno.ENAMETOOLONG, errno.ELOOP):
        return _misconfigured("the path is too long, or its symbolic links loop")
    return ConnectorFailed("the folder cannot be read now")


def opened_path(descriptor: int) -> str:
    """Where an open descriptor really is, every symlink resolved, as the kernel knows it."""
    try:
        return str(Path(f"/proc/self/fd/{descriptor}").readlink())
    except OSError:
        pass
    get_path = getattr(fcntl, "F_GETPATH", None)  # macOS
    if get_path is None:
        raise ConnectorFailed("file data sources need Linux or macOS on the server")
    raw = fcntl.fcntl(descriptor, get_path, bytes(1024))
    return os.fsdecode(raw.split(b"\0", 1)[0])


class Folder:
    """An open folder inside ``root``; files are opened relative to it and checked too."""

    def __init__(self, descriptor: int, root: str) -> None:
        self._descriptor, self._root = descriptor, root

    @property
    def descriptor(self) -> int:
        """The open folder (names are resolved relative to it, never through a path)."""
        return self._descriptor

    def _entries(self, most: int, budget: Budget) -> Iterator[os.DirEntry[str]]:
        """Its entries with printable names; ``most`` looked at, at most, on ``budget``."""
        with os.scandir(self._descriptor) as entries:
            for seen, entry in enumerate(entries):
                if seen % 1024 == 0:
                    budget.spend()
                if seen >= most:
                    raise _misconfigured(f"the folder holds more than {most} entries")
                if _printable(entry.name):
                    yield entry

    def folders(self, *, most: int, budget: Budget) -> list[str]:
        """The names of the folders in it (never a link to one, nor a hidden one), sorted;
        ``most`` entries looked at, at most."""
        return sorted(
            entry.name
            for entry in self._entries(most, budget)
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
        )

    def names(self, suffix: str, *, most: int, budget: Budget) -> list[str]:
        """File names ending in ``suffix``, sorted; ``most`` entries looked at, at most."""
        return sorted(
            entry.name for entry in self._entries(most, budget) if entry.name.endswith(suffix)
        )

    def open(self, name: str) -> int | None:
        """A descriptor of the regular file ``name``; ``None`` if it is not a regular file.

        ``ConnectorMisconfigured`` if it leads outside the organization's folder.
        """
        try:
            descriptor = os.open(name, _FILE, dir_fd=self._descriptor)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ELOOP, errno.EACCES, errno.EPERM, errno.ENXIO):
                return None  # gone since listed, a dangling or looping link, not readable
            raise
        try:
            if not inside(opened_path(descriptor), self._root):
                raise _misconfigured(f"{name!r} {LEADS_OUT}")
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                os.close(descriptor)
                return None
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor


def _printable(name: str) -> bool:
    try:
        name.encode("utf-8")  # names that are not UTF-8 come back with surrogates
    except UnicodeEncodeError:
        return False
    return all(ord(c) >= 0x20 and c != "\x7f" for c in name)


@contextmanager
def open_folder(root: str, path: str) -> Iterator[Folder]:
    """The folder ``path`` under ``root`` (an organization's folder, symlinks resolved)."""
    real_root = os.path.realpath(root)
    try:
        descriptor = os.open(Path(real_root, path), _DIRECTORY)
    except OSError as e:
        raise folder_error(e, path) from None
    try:
        if not inside(opened_path(descriptor), real_root):
            raise _misconfigured(f"the folder {LEADS_OUT}")
        yield Folder(descriptor, real_root)
    finally:
        os.close(descriptor)
