"""A destination stream's folder: files made, made durable and replaced through its descriptor.

Every name is resolved relative to the open folder (``dir_fd``) and never
follows a symbolic link (``O_NOFOLLOW``, ``O_EXCL``), so nothing written can
land outside it, whatever is swapped in meanwhile. Durability is the classic
sequence: a file's data is fsynced before it is named in anything, a rename
is made durable by fsyncing the folder. The lock is ``flock`` on a file of the
folder: the kernel drops it when its holder dies, however it dies.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from thedata.application.ports.streams import StreamFailed

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
LOCK_NAME = ".lock"
_POLL = 0.05


class StreamFolder:
    """An open folder (its descriptor) where one stream's files live."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    @classmethod
    @contextmanager
    def opened(cls, parent: int, name: str, *, create: bool) -> Iterator[StreamFolder]:
        """The folder ``name`` in the folder ``parent``, made when ``create`` and missing."""
        if create:
            try:
                os.mkdir(name, 0o750, dir_fd=parent)
            except FileExistsError:
                pass
            else:
                os.fsync(parent)  # the new folder's name outlives a crash
        try:
            descriptor = os.open(name, _DIRECTORY, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise StreamFailed(f"{name!r} in the folder is not a folder") from None
            raise
        try:
            yield cls(descriptor)
        finally:
            os.close(descriptor)

    def create(self, name: str) -> int:
        """A new file ``name`` open for writing; never an existing file or a link."""
        return os.open(_plain(name), _NEW, 0o640, dir_fd=self.descriptor)

    def new_name(self, prefix: str, suffix: str) -> str:
        """A file name nobody else can have chosen (another attempt may write beside us)."""
        return f"{prefix}-{secrets.token_hex(6)}{suffix}"

    def open(self, name: str) -> int | None:
        """The regular file ``name`` open for reading; ``None`` when there is none."""
        try:
            descriptor = os.open(_plain(name), _READ, dir_fd=self.descriptor)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise StreamFailed(f"{name!r} in the stream's folder is not a regular file")
        return descriptor

    def replace(self, source: str, target: str, *, durably: bool = True) -> None:
        """Rename ``source`` over ``target`` atomically (and durably, unless told not to)."""
        os.rename(
            _plain(source), _plain(target), src_dir_fd=self.descriptor, dst_dir_fd=self.descriptor
        )
        if durably:
            os.fsync(self.descriptor)

    def remove(self, name: str) -> None:
        """Delete ``name`` if it is there."""
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.descriptor)

    def names(self) -> list[str]:
        """The folder's entries."""
        with os.scandir(self.descriptor) as entries:
            return [entry.name for entry in entries]

    def sync(self) -> None:
        """Make the folder's entries (new names, renames, deletions) durable."""
        os.fsync(self.descriptor)

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        """Hold the stream's lock; a holder that dies releases it. ``StreamFailed``
        (retryable) when another holder keeps it past ``timeout`` seconds."""
        descriptor = os.open(
            LOCK_NAME,
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o640,
            dir_fd=self.descriptor,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StreamFailed(
                            "another attempt holds the stream's folder; it may be retried",
                            retryable=True,
                        ) from None
                    time.sleep(_POLL)
            yield
        finally:
            os.close(descriptor)  # closing drops the lock


def _plain(name: str) -> str:
    """``name`` if it names an entry of the folder itself: ``..`` or ``/`` would let a name
    lead elsewhere (an absolute path even ignores the folder's descriptor)."""
    if not name or "/" in name or name in (".", ".."):
        raise StreamFailed("a file name of the stream's folder leads outside it")
    return name


def write_all(descriptor: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def durable_close(descriptor: int) -> None:
    """fsync then close: the file's bytes are on disk before anything names it."""
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
