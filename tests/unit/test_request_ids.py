"""Request ids the service makes up: version 4 UUIDs, never repeated (across threads, after
a fork)."""

from __future__ import annotations

import os
import threading
import uuid

from thedata.entrypoints.http.request_ids import new_request_id as _new_request_id


def test_new_request_ids_are_distinct_version_4_uuids() -> None:
    """10,000 ids: all different, each a canonical version 4 UUID."""
    ids = [_new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 and uuid.UUID(i).version == 4 for i in ids)


def test_every_random_digit_of_a_request_id_varies() -> None:
    """122 random bits, as in ``uuid.uuid4()``: of 2,000 ids, each of the 30 free hex
    digits takes many values, and the variant digit takes all four it may."""
    ids = [_new_request_id().replace("-", "") for _ in range(2000)]
    seen = [{i[n] for i in ids} for n in range(32)]
    assert seen[12] == {"4"}
    assert seen[16] == set("89ab")
    assert all(len(seen[n]) == 16 for n in range(32) if n not in (12, 16))


def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    """A worker forked from the server (a process manager's pre-fork) does not replay the
    parent's ids."""
    _new_request_id()  # the parent has random digits in hand when it forks
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


def test_threads_making_ids_at_once_never_share_one() -> None:
    """Eight threads take ids from the same buffered random source: 16,000 ids, all
    different and all well formed."""
    made: list[list[str]] = [[] for _ in range(8)]

    def make(into: list[str]) -> None:
        into.extend(_new_request_id() for _ in range(2000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for into in made for i in into]
    assert len(set(ids)) == len(ids) == 16_000
    assert all(uuid.UUID(i).version == 4 for i in ids)
