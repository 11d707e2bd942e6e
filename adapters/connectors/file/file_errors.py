"""Operating-system errors while moving a stream through a folder, told as ``StreamFailed``.

A full disk or a file that vanished under a read may pass (retryable); a
refused permission, a read-only file system or a symbolic link where the
engine keeps its own files will not. No path leaves: it would show the
server's layout.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from thedata.application.ports.streams import StreamFailed

_PERMANENT = {
    errno.EACCES: "the service may not read or write a file of the stream's folder",
    errno.EPERM: "the service may not read or write a file of the stream's folder",
    errno.EROFS: "the stream's folder is on a read-only file system",
    errno.ELOOP: "a symbolic link stands where the engine keeps a stream's files",
    errno.ENAMETOOLONG: "a name in the stream's folder is too long for the file system",
    errno.EISDIR: "a folder stands where the engine keeps a stream's file",
    errno.ENOTDIR: "a file stands where the engine keeps a stream's folder",
}
_RETRYABLE = {
    errno.ENOSPC: "the stream's folder is out of disk space; the stream may be retried",
    errno.EDQUOT: "the stream's folder is over its disk quota; the stream may be retried",
    errno.ENOENT: "a file of the stream vanished while it was used; the stream may be retried",
}


def file_error(error: OSError) -> StreamFailed:
    """What ``error`` means for the stream, and whether retrying may help."""
    if error.errno in _PERMANENT:
        return StreamFailed(_PERMANENT[error.errno])
    message = _RETRYABLE.get(error.errno or 0, "the stream's folder cannot be used now")
    return StreamFailed(message, retryable=True)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn an ``OSError`` raised inside into ``StreamFailed``."""
    try:
        yield
    except OSError as e:
        raise file_error(e) from None
