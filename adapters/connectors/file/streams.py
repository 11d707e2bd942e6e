"""What a stream is in a folder: its name, and the frame format of the folder's files."""

from __future__ import annotations

from thedata.application.ports.streams import MAX_IDENTIFIER_BYTES, FrameFormat, StreamFailed
from thedata.domain.pipelines import RESERVED_PREFIX

FORMATS = {"csv": FrameFormat.CSV, "jsonl": FrameFormat.JSON_LINES}
"""The frames a folder's files are, by the data source's ``format``."""


def stream_name(name: str) -> str:
    """``name`` if it can name a stream's file or folder as it is (and a table in
    PostgreSQL: at most 63 bytes, never shortened); else ``StreamFailed``."""
    if not name or any(ord(c) < 0x20 or c in "/\\\x7f" for c in name):
        raise StreamFailed(f"the stream name {name!r} cannot name a file")
    if name.startswith(".") or name.lower().startswith(RESERVED_PREFIX):
        raise StreamFailed(
            f"the stream name {name!r} starts with '.' or {RESERVED_PREFIX!r}, "
            "which the engine keeps for its own files"
        )
    if len(name.encode("utf-8", errors="replace")) > MAX_IDENTIFIER_BYTES:
        raise StreamFailed(
            f"the stream name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes "
            "(names are refused, never shortened)"
        )
    return name
