"""Request ids the service makes up: version 4 UUIDs, never repeated, not even after a fork."""

from __future__ import annotations

import os
import uuid

from thedata.entrypoints.http.request_context import _new_request_id


def test_new_request_ids_are_distinct_version_4_uuids() -> None:
    """10,000 ids: all different, each a canonical version 4 UUID."""
    ids = [_new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    """A worker forked from the server (a process manager's pre-fork) does not replay the
    parent's ids."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writing, ",".join(_new_request_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    with os.fdopen(reading) as pipe:
        childs = set(pipe.read().split(","))
    parents = {_new_request_id() for _ in range(3)}
    assert len(childs) == 3
    assert not childs & parents
