"""The PostgreSQL stream writer under concurrency and faults, on a real server.

What the contract cannot say for every destination: a newer attempt's open
waits for a publish in flight and then wins; a crash or cancel between the
COPY and the state update, or a commit whose answer is lost, leaves exactly
one copy of each row; a full refresh is atomic to a concurrent reader and
keeps views and grants; binary COPY frames pass through only when the types
are the same on both servers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.contract.test_stream_writers import (
    PIPELINE,
    SHAPE,
    TYPED,
    TYPED_ROWS,
    at,
    orders,
    postgres_destination,
    postgres_writer_for,
    read_rows,
    rows_batch,
)
from tests.faults import PartitionableProxy
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.postgres import copying
from thedata.adapters.connectors.postgres import state as state_module
from thedata.adapters.connectors.postgres import writer as writer_module
from thedata.adapters.connectors.postgres.errors import PRIVILEGE, UNREACHABLE
from thedata.application.ports import (
    Batch,
    Column,
    FrameFormat,
    Position,
    Shape,
    StreamFailed,
    StreamWriter,
    Superseded,
    WriteMode,
)

Destination = tuple[DefaultConnectorFactory, dict[str, Any]]


@pytest.fixture
def destination(
    source_database_url: str, postgres_server_url: str, tmp_path: Path
) -> Iterator[Destination]:
    """A factory and the config of a postgres data source for the destination database."""
    with postgres_destination(source_database_url, postgres_server_url, tmp_path) as found:
        yield found


@pytest.fixture
def url(source_database_url: str) -> str:
    """The destination database, for the test's own connections."""
    return source_database_url


@pytest.fixture
def writer(destination: Destination) -> StreamWriter:
    """The postgres kind's writer to the destination database."""
    factory, config = destination
    return postgres_writer_for(factory, config)


async def execute(url: str, *statements: str | sql.Composed) -> None:
    """Run ``statements`` on a connection of the test's own."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        for statement in statements:
            await connection.execute(statement)


async def value(url: str, query: str | sql.Composed, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of ``query``."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        row = await (await connection.execute(query, params)).fetchone()
        return None if row is None else row[0]


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Wait until ``check`` holds (polling), failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def waiting_on(url: str, event: str) -> Callable[[], Awaitable[bool]]:
    """A check: some other session of the database waits on ``event`` (Lock, PgSleep...)."""

    async def check() -> bool:
        found = await value(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND (wait_event_type = %s OR wait_event = %s)",
            (event, event),
        )
        return bool(found)

    return check


async def stored_position(url: str, stream: str) -> Any:
    """The position the state table holds for ``stream`` of PIPELINE (its JSON)."""
    return await value(
        url,
        "SELECT position FROM _thedata_state WHERE pipeline = %s AND stream = %s",
        (PIPELINE, stream),
    )


class Gate:
    """Frames that stop after the first row until released, to hold a publish mid-way."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows, self.reached, self.release = rows, asyncio.Event(), asyncio.Event()

    async def frames(self) -> AsyncIterator[tuple[object, ...]]:
        yield self.rows[0]
        self.reached.set()
        await self.release.wait()
        for row in self.rows[1:]:
            yield row


# --- fencing while a publish is in flight ------------------------------------------------


STALL_ON_POSITION = """
CREATE TABLE go ();
CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WHILE NOT EXISTS (SELECT FROM go) LOOP PERFORM pg_sleep(0.02); END LOOP;
    RETURN NEW;
END $$;
CREATE TRIGGER stall BEFORE UPDATE OF position ON _thedata_state
FOR EACH ROW WHEN (NEW.position IS DISTINCT FROM OLD.position) EXECUTE FUNCTION stall();
"""
GO = "INSERT INTO go DEFAULT VALUES"


@pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT])
async def test_a_newer_open_during_a_batch_copy_wins_at_once_and_the_batch_commits_nothing(
    writer: StreamWriter, url: str, mode: WriteMode
) -> None:
    """The older attempt's batch is in its COPY, holding nothing the newer open needs: the
    newer open takes the stream at once, and the batch, when it ends, raises and commits
    nothing."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as old:
        gate = Gate(orders(1, 2))
        publishing = asyncio.create_task(old.write(Batch(FrameFormat.ROWS, gate.frames(), at(2))))
        await asyncio.wait_for(gate.reached.wait(), 10)
        async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 2) as new:
            assert new.position is None
            gate.release.set()
            with pytest.raises(Superseded):
                await publishing
            await new.write(rows_batch(orders(1), at(1)))
    assert await read_rows(url, "t") == orders(1)


@pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT])
async def test_a_newer_open_waits_for_a_batch_storing_its_position_then_wins(
    writer: StreamWriter, url: str, mode: WriteMode
) -> None:
    """The older attempt's batch holds the state row while it stores its position: the newer
    open waits, the batch commits, the newer open reads its end, and the older attempt's next
    write and finish raise."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1):
        pass
    await execute(url, STALL_ON_POSITION)
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as old:
        publishing = asyncio.create_task(old.write(rows_batch(orders(1, 2), at(2))))
        await eventually(waiting_on(url, "PgSleep"))  # the row is held, the position waits
        newer = writer.open(PIPELINE, "s", "t", SHAPE, mode, 2)
        opening = asyncio.create_task(newer.__aenter__())
        await eventually(waiting_on(url, "Lock"))
        assert not opening.done()
        await execute(url, GO)
        assert (await publishing).rows == 2
        new = await asyncio.wait_for(opening, 10)
        try:
            assert new.position == at(2)
            with pytest.raises(Superseded):
                await old.write(rows_batch(orders(3), at(3)))
            with pytest.raises(Superseded):
                await old.finish()
        finally:
            await newer.__aexit__(None, None, None)
    assert await read_rows(url, "t") == orders(1, 2)


async def test_an_open_behind_a_publish_that_never_ends_fails_retryably(
    writer: StreamWriter, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish that holds the state row and does not end does not hang the newer attempt
    forever: its open fails after the claim wait, and may be retried."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 1):
        pass
    await execute(url, STALL_ON_POSITION)
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 1) as old:
        publishing = asyncio.create_task(old.write(rows_batch(orders(1, 2), at(2))))
        await eventually(waiting_on(url, "PgSleep"))
        monkeypatch.setattr(state_module, "CLAIM_WAIT", "200ms")
        with pytest.raises(StreamFailed) as waited:
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 2):
                pass
        assert waited.value.retryable
        await execute(url, GO)
        await publishing
    assert await read_rows(url, "t") == orders(1, 2)


async def test_a_newer_open_does_not_wait_for_a_full_refresh_queued_for_its_table(
    writer: StreamWriter, url: str
) -> None:
    """A finish waiting for its table holds nothing a newer open needs: the newer attempt
    takes the stream at once, and the older refresh, once it has the table, publishes
    nothing."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as first:
        await first.write(rows_batch(orders(1)))
        await first.finish()
    async with await psycopg.AsyncConnection.connect(url) as blocker:  # a long reader of t
        await blocker.execute("SELECT count(*) FROM t")
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as old:
            await old.write(rows_batch(orders(2, 3)))
            finishing = asyncio.create_task(old.finish())
            await eventually(waiting_on(url, "Lock"))  # the finish queues for the table
            async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 3):
                assert not finishing.done()
                await blocker.rollback()
                with pytest.raises(Superseded):
                    await asyncio.wait_for(finishing, 20)
    assert await read_rows(url, "t") == orders(1)


async def test_a_newer_open_waits_for_a_full_refresh_storing_its_position_then_wins(
    writer: StreamWriter, url: str
) -> None:
    """A finish that holds the state row (its last step) makes a newer open wait; the
    refresh is published, and the older attempt can do nothing more."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as first:
        await first.write(rows_batch(orders(1)))
        await first.finish()
    await execute(
        url,
        STALL_ON_POSITION.replace(
            "WHEN (NEW.position IS DISTINCT FROM OLD.position)", "WHEN (OLD.epoch = 2)"
        ).replace("BEFORE UPDATE OF position", "BEFORE UPDATE"),
    )
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as old:
        await old.write(rows_batch(orders(2, 3)))
        finishing = asyncio.create_task(old.finish())
        await eventually(waiting_on(url, "PgSleep"))
        newer = writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 3)
        opening = asyncio.create_task(newer.__aenter__())
        await eventually(waiting_on(url, "Lock"))
        assert not opening.done()
        await execute(url, GO)
        await asyncio.wait_for(finishing, 20)
        await asyncio.wait_for(opening, 10)
        try:
            with pytest.raises(Superseded):
                await old.write(rows_batch(orders(4)))
        finally:
            await newer.__aexit__(None, None, None)
    assert await read_rows(url, "t") == orders(2, 3)


ROOT = Path(__file__).parents[2]


async def _paused_writer(config: dict[str, Any], pause: str) -> asyncio.subprocess.Process:
    """A writer process (tests/paused_writer.py) that committed a batch and stopped itself
    (SIGSTOP) in its next one, at ``pause``."""
    settings = {"destination": config, "timeout": 1, "pause": pause}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.paused_writer",
        json.dumps(settings),
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    for expected in ("committed", "pausing"):
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.decode().strip() == expected
    return process


@pytest.mark.parametrize(("pause", "woken"), [("copy", "Superseded"), ("locked", "StreamFailed")])
async def test_a_worker_stopped_mid_batch_does_not_hold_the_stream(
    destination: Destination, url: str, pause: str, woken: str
) -> None:
    """A worker process stopped (SIGSTOP) in a batch's COPY holds no lock a newer attempt
    needs; one stopped holding the state row is ended by the server once its transaction sat
    idle past the connector timeout. Either way the newer attempt writes at once, and the
    stopped worker, woken, commits nothing."""
    factory, config = destination
    process = await _paused_writer(config, pause)
    try:
        await eventually(_a_session(url, PAUSED[pause]))
        shape = Shape((Column("id", "bigint", False), Column("note", "text")))
        writer = postgres_writer_for(factory, config)

        async def take_over() -> None:
            async with writer.open("paused", "s", "t", shape, WriteMode.APPEND, 2) as sink:
                assert sink.position == Position("2")
                rows = [(i, f"row {i}") for i in (3, 4, 5)]
                await sink.write(rows_batch(rows, Position("5")))

        await asyncio.wait_for(take_over(), 10)
    finally:
        process.send_signal(signal.SIGCONT)
    assert process.stdout is not None
    ended = await asyncio.wait_for(process.stdout.readline(), 20)
    assert ended.decode().strip() == woken
    await asyncio.wait_for(process.wait(), 20)
    assert await read_rows(url, "t") == [(i, f"row {i}") for i in range(1, 6)]


async def test_a_writer_session_never_waits_without_end(
    destination: Destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's connection has TCP keepalives and a user timeout, a lock wait and an
    idle-in-transaction limit of the connector timeout, longer for a full refresh's load (the
    server's side of keepalives reads 0 here: the test server is reached through a proxy on a
    Unix socket)."""
    opened: list[psycopg.AsyncConnection[Any]] = []
    connect = psycopg.AsyncConnection.connect

    async def recording(*args: Any, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        connection = await connect(*args, **kwargs)
        opened.append(connection)
        return connection

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", recording)
    factory, config = destination
    settings = []
    for mode in (WriteMode.APPEND, WriteMode.REPLACE):
        opened.clear()
        async with postgres_writer_for(factory, config).open(PIPELINE, "s", "t", SHAPE, mode, 1):
            (connection,) = (
                c for c in opened if not c.closed and c.info.dbname == config["database"]
            )
            shown = await connection.execute(
                "SELECT current_setting('lock_timeout'), "
                "current_setting('idle_in_transaction_session_timeout')"
            )
            settings.append(await shown.fetchone())
            with socket.socket(fileno=os.dup(connection.fileno())) as client:  # a copy of its fd
                keepalive = client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                user_timeout = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
            assert (keepalive, user_timeout) == (1, 60_000)
    assert settings == [("5s", "5s"), ("5s", "10min")]


PAUSED = {
    "copy": "state = 'active' AND query LIKE 'COPY%%'",
    "locked": "state = 'idle in transaction'",
}


def _a_session(url: str, condition: str) -> Callable[[], Awaitable[bool]]:
    """A check: another session of the database is in ``condition`` (on pg_stat_activity)."""

    async def check() -> bool:
        query = sql.SQL(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND {}"
        ).format(sql.SQL(condition))  # the test's own constants
        return bool(await value(url, query))

    return check


# --- rows and position together ----------------------------------------------------------


CRASH_ON_POSITION = """
CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'crash with secret-ish detail'; END $$;
CREATE TRIGGER crash BEFORE UPDATE OF position ON _thedata_state
FOR EACH ROW EXECUTE FUNCTION crash();
"""
SLEEP_ON_POSITION = """
CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;
CREATE TRIGGER stall BEFORE UPDATE OF position ON _thedata_state
FOR EACH ROW EXECUTE FUNCTION stall();
"""


@pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT])
async def test_a_failure_between_the_copy_and_the_state_update_leaves_neither(
    writer: StreamWriter, url: str, mode: WriteMode
) -> None:
    """The rows are copied, then storing the position fails: neither is committed, and the
    error is ours, without the server's text."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
        await sink.write(rows_batch(orders(1), at(1)))
    await execute(url, CRASH_ON_POSITION)
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
        with pytest.raises(StreamFailed) as failed:
            await sink.write(rows_batch([(1, 5, "changed"), *orders(2, 3)], at(3)))
    assert "secret" not in str(failed.value)
    assert await read_rows(url, "t") == orders(1)
    assert await stored_position(url, "s") == {"cursor": "1", "key": ["1"], "snapshot": None}


@pytest.mark.parametrize("mode", [WriteMode.APPEND, WriteMode.UPSERT])
async def test_a_batch_cancelled_before_its_position_is_stored_leaves_neither(
    writer: StreamWriter, url: str, mode: WriteMode
) -> None:
    """A worker cancelled while the state update runs (after the COPY) commits nothing."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
        await sink.write(rows_batch(orders(1), at(1)))
    await execute(url, SLEEP_ON_POSITION)
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
        writing = asyncio.create_task(sink.write(rows_batch(orders(2, 3), at(3))))
        await eventually(waiting_on(url, "PgSleep"))
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
    await execute(url, "DROP TRIGGER stall ON _thedata_state")
    assert await read_rows(url, "t") == orders(1)
    async with writer.open(PIPELINE, "s", "t", SHAPE, mode, 1) as sink:
        assert sink.position == at(1)


class Proxied:
    """A proxy in front of a database that can hold the server's answers, then drop every
    connection; and the config of a data source reached through it."""

    def __init__(self, database_url: str) -> None:
        parts = conninfo_to_dict(database_url)
        host, port = str(parts.get("host") or "localhost"), int(parts.get("port") or 5432)
        if host.startswith("/"):
            path = str(Path(host) / f".s.PGSQL.{port}")
            self.proxy = PartitionableProxy(lambda: asyncio.open_unix_connection(path))
        else:
            self.proxy = PartitionableProxy(lambda: asyncio.open_connection(host, port))
        self.proxy.start()
        self.running = True
        self.config = {
            "host": "127.0.0.1",
            "port": self.proxy.port,
            "database": str(parts["dbname"]),
            "user": str(parts.get("user") or "postgres"),
        }

    def stop(self) -> None:
        """Drop every connection through the proxy (what it held is lost)."""
        if self.running:
            self.running = False
            self.proxy.stop()


@contextmanager
def proxied(database_url: str) -> Iterator[Proxied]:
    """A ``Proxied`` database, stopped at the end."""
    proxied = Proxied(database_url)
    try:
        yield proxied
    finally:
        proxied.stop()


SLOW_COMMIT = """
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON _thedata_state
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


async def test_a_batch_sent_again_after_its_commit_answer_was_lost_is_not_appended_twice(
    destination: Destination, url: str
) -> None:
    """The commit reaches the server but its answer never comes back: the attempt sees a lost
    connection, opens the stream again, and the batch it sends again writes nothing."""
    factory, config = destination
    async with postgres_writer_for(factory, config).open(
        PIPELINE, "s", "log", SHAPE, WriteMode.APPEND, 1
    ):
        pass
    await execute(url, SLOW_COMMIT)
    with proxied(url) as through:
        writer = postgres_writer_for(factory, through.config)
        async with writer.open(PIPELINE, "s", "log", SHAPE, WriteMode.APPEND, 1) as sink:
            writing = asyncio.create_task(sink.write(rows_batch(orders(1, 2), at(2))))
            await eventually(waiting_on(url, "PgSleep"))  # inside COMMIT, at the deferred trigger
            through.proxy.partition()  # the answer will be held
            await eventually(lambda: _no_session_busy(url))  # the commit is done
            through.stop()  # and the connection dies before its answer arrives
            with pytest.raises(StreamFailed) as lost:
                await writing
            assert str(lost.value) == UNREACHABLE
            assert lost.value.retryable
    assert await read_rows(url, "log") == orders(1, 2)
    async with postgres_writer_for(factory, config).open(
        PIPELINE, "s", "log", SHAPE, WriteMode.APPEND, 1
    ) as sink:
        assert sink.position == at(2)
        assert (await sink.write(rows_batch(orders(1, 2), at(2)))).rows == 0
    assert await read_rows(url, "log") == orders(1, 2)


async def test_a_batch_already_in_is_drained_outside_any_transaction(
    destination: Destination, url: str, tmp_path: Path, postgres_server_url: str
) -> None:
    """A batch sent again whose frames come slowly (longer than a publish may sit idle) is
    skipped without holding a transaction open meanwhile."""
    _, config = destination
    impatient = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 1, control_database=postgres_server_url
    )
    writer = postgres_writer_for(impatient, config)
    async with writer.open(PIPELINE, "s", "log", SHAPE, WriteMode.APPEND, 1) as sink:
        await sink.write(rows_batch(orders(1, 2), at(2)))

    async def slowly() -> AsyncIterator[tuple[object, ...]]:
        for row in orders(1, 2):
            await asyncio.sleep(1.5)
            yield row

    async with writer.open(PIPELINE, "s", "log", SHAPE, WriteMode.APPEND, 1) as sink:
        assert (await sink.write(Batch(FrameFormat.ROWS, slowly(), at(2)))).rows == 0
        await sink.write(rows_batch(orders(3), at(3)))
    assert await read_rows(url, "log") == orders(1, 2, 3)


async def _no_session_busy(url: str) -> bool:
    busy = await value(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state <> 'idle'",
    )
    return bool(busy == 0)


# --- full refresh ------------------------------------------------------------------------


async def _count_forever(url: str, table: str, seen: list[int], errors: list[str]) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        while True:
            try:
                row = await (await connection.execute(query)).fetchone()
                seen.append(int(row[0]) if row else -1)
            except psycopg.Error as e:
                errors.append(f"{e.sqlstate}: {e}")
            await asyncio.sleep(0)


async def _slowly(rows: Sequence[tuple[Any, ...]]) -> AsyncIterator[tuple[object, ...]]:
    for n, row in enumerate(rows):
        if n % 100 == 0:
            await asyncio.sleep(0.01)
        yield row


async def _refresh_watched(
    writer: StreamWriter, url: str, epoch: int
) -> tuple[set[int], list[str]]:
    """Refresh t from 1,000 to 2,000 rows while another session counts it; the counts seen."""
    seen: list[int] = []
    errors: list[str] = []
    counting = asyncio.create_task(_count_forever(url, "t", seen, errors))
    try:
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, epoch) as sink:
            for start in (1, 1001):
                batch = orders(*range(start, start + 1000))
                await sink.write(Batch(FrameFormat.ROWS, _slowly(batch)))
            await sink.finish()
        polled = len(seen)
        await eventually(lambda: _more(seen, polled + 20))
    finally:
        counting.cancel()
        await asyncio.gather(counting, return_exceptions=True)
    return set(seen), errors


async def _more(seen: list[int], count: int) -> bool:
    return len(seen) >= count


async def _seed(writer: StreamWriter) -> None:
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
        await sink.write(rows_batch(orders(*range(1, 1001))))
        await sink.finish()


async def _oid(url: str, table: str) -> int:
    return int(await value(url, "SELECT %s::regclass::oid", (table,)))


async def _primary_key(url: str, table: str) -> list[str]:
    found = await value(
        url,
        "SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (table,),
    )
    return list(found or [])


async def test_a_full_refresh_of_a_plain_table_is_swapped_in_atomically(
    writer: StreamWriter, url: str
) -> None:
    """Nothing depends on the table: a new one replaces it (a new oid), with its primary key,
    and a concurrent reader only ever counts the old rows or the new ones."""
    await _seed(writer)
    before = await _oid(url, "t")
    seen, errors = await _refresh_watched(writer, url, 2)
    assert errors == []
    assert seen == {1000, 2000}
    assert await _oid(url, "t") != before
    assert await _primary_key(url, "t") == ["id"]
    assert await value(url, "SELECT to_regclass('t_pkey') IS NOT NULL")
    leftovers = await value(
        url, "SELECT count(*) FROM pg_class WHERE relname LIKE '_thedata_load%%'"
    )
    assert leftovers == 0


async def test_a_full_refresh_keeps_dependent_views_and_grants(
    writer: StreamWriter, url: str
) -> None:
    """A view and a grant hang on the table: it is truncated and refilled in one transaction
    (the same oid), both survive, and a concurrent reader sees the old rows or the new ones."""
    await _seed(writer)
    before = await _oid(url, "t")
    role = f"reader_{uuid.uuid4().hex[:8]}"
    await execute(
        url,
        "CREATE VIEW recent AS SELECT id, note FROM t WHERE id > 10",
        sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)),
        sql.SQL("GRANT SELECT ON t TO {}").format(sql.Identifier(role)),
    )
    try:
        seen, errors = await _refresh_watched(writer, url, 2)
        assert errors == []
        assert seen == {1000, 2000}
        assert await _oid(url, "t") == before
        assert await value(url, "SELECT count(*) FROM recent") == 1990
        assert await value(url, "SELECT has_table_privilege(%s, 't', 'SELECT')", (role,))
        assert await _primary_key(url, "t") == ["id"]
    finally:
        await execute(
            url,
            sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)),
            sql.SQL("DROP ROLE {}").format(sql.Identifier(role)),
        )


async def test_a_full_refresh_into_a_table_without_a_key_gets_one_after_the_load(
    writer: StreamWriter, url: str
) -> None:
    """The table (with a view on it) had no primary key: the refresh adds the stream's."""
    await execute(url, "CREATE TABLE t (id bigint, updated bigint, note text)")
    await execute(url, "CREATE VIEW v AS SELECT * FROM t")
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 1) as sink:
        await sink.write(rows_batch(orders(1, 2)))
        await sink.finish()
    assert await _primary_key(url, "t") == ["id"]
    assert await read_rows(url, "v") == orders(1, 2)


KEPT_PROPERTIES = {
    "a column grant": (
        "GRANT SELECT (id) ON t TO {role}",
        "SELECT count(*) FROM information_schema.column_privileges "
        "WHERE table_name = 't' AND grantee = '{role}'",
    ),
    "an identity": (
        "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
        "SELECT attidentity FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'id'",
    ),
    "a NOT NULL": (
        "ALTER TABLE t ALTER COLUMN note SET NOT NULL",
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note'",
    ),
    "extended statistics": (
        "CREATE STATISTICS t_stats ON id, note FROM t",
        "SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = 't'::regclass",
    ),
    "UNLOGGED": (
        "ALTER TABLE t SET UNLOGGED",
        "SELECT relpersistence FROM pg_class WHERE oid = 't'::regclass",
    ),
    "a collation": (
        'ALTER TABLE t ALTER COLUMN note TYPE text COLLATE "C"',
        "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
        "WHERE a.attrelid = 't'::regclass AND a.attname = 'note'",
    ),
    "a function reading it (BEGIN ATOMIC)": (
        "CREATE FUNCTION t_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC "
        "SELECT count(*) FROM t; END",
        "SELECT t_count()",
    ),
    "a replica identity": (
        "ALTER TABLE t REPLICA IDENTITY FULL",
        "SELECT relreplident FROM pg_class WHERE oid = 't'::regclass",
    ),
    "a column's statistics target": (
        "ALTER TABLE t ALTER COLUMN note SET STATISTICS 500",
        "SELECT attstattarget FROM pg_attribute "
        "WHERE attrelid = 't'::regclass AND attname = 'note'",
    ),
    "a column's storage": (
        "ALTER TABLE t ALTER COLUMN note SET STORAGE EXTERNAL",
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note'",
    ),
}


@pytest.mark.parametrize("kept", list(KEPT_PROPERTIES))
async def test_a_full_refresh_keeps_what_was_set_on_the_table(
    writer: StreamWriter, url: str, kept: str
) -> None:
    """Whatever a swap would lose or break is kept: the table is truncated and refilled (the
    same oid), the property is as it was, and the rows are the new ones."""
    await _seed(writer)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    change, probe = (part.replace("{role}", role) for part in KEPT_PROPERTIES[kept])
    await execute(url, sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)), change)
    try:
        before = await _oid(url, "t"), await value(url, probe)
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as sink:
            await sink.write(rows_batch(orders(*range(5, 2005))))
            await sink.finish()
        assert (await _oid(url, "t"), await value(url, probe)) == (
            before[0],
            2000 if "function" in kept else before[1],
        )
        assert await read_rows(url, "t") == orders(*range(5, 2005))
    finally:
        await execute(
            url,
            sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)),
            sql.SQL("DROP ROLE {}").format(sql.Identifier(role)),
        )


async def test_a_full_refresh_of_a_table_other_tables_refer_to_replaces_rows_by_key(
    writer: StreamWriter, url: str
) -> None:
    """A foreign key refers to the table (which TRUNCATE refuses): rows are replaced by key,
    the foreign key and the rows referring to kept keys stay; dropping a referred-to row
    fails the stream and changes nothing."""
    await _seed(writer)
    await execute(
        url,
        "CREATE TABLE child (id int PRIMARY KEY, parent bigint REFERENCES t (id))",
        "INSERT INTO child VALUES (1, 5)",
    )
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 2) as sink:
        await sink.write(rows_batch([(5, 50, "kept"), *orders(2000)]))
        await sink.finish()
    assert await read_rows(url, "t") == [(5, 50, "kept"), *orders(2000)]
    assert await read_rows(url, "child") == [(1, 5)]
    with pytest.raises(StreamFailed, match="constraint"):
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 3) as sink:
            await sink.write(rows_batch(orders(7)))
            await sink.finish()
    assert await read_rows(url, "t") == [(5, 50, "kept"), *orders(2000)]


# --- binary passthrough and types --------------------------------------------------------


async def _binary_copy_of(url: str, rows: Sequence[tuple[Any, ...]], shape: Shape) -> bytes:
    """The binary COPY payload of ``rows`` as a PostgreSQL source would send it."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in shape.columns
    )
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(sql.SQL("CREATE TEMP TABLE src ({})").format(columns))
        cursor = connection.cursor()
        types = await connection.execute(
            "SELECT atttypid FROM pg_attribute WHERE attrelid = 'src'::regclass AND attnum > 0 "
            "ORDER BY attnum"
        )
        oids = [oid for (oid,) in await types.fetchall()]
        async with cursor.copy("COPY src FROM STDIN (FORMAT binary)") as copy:
            copy.set_types(oids)
            for row in rows:
                await copy.write_row(row)
        payload = bytearray()
        async with cursor.copy("COPY src TO STDOUT (FORMAT binary)") as copy:
            async for chunk in copy:
                payload += chunk
    return bytes(payload)


async def _chunks(payload: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


@pytest.mark.parametrize("mode", [WriteMode.UPSERT, WriteMode.APPEND, WriteMode.REPLACE])
async def test_binary_frames_pass_through_with_every_type_kept(
    writer: StreamWriter, url: str, mode: WriteMode
) -> None:
    """Built-in types on both sides: binary COPY frames are taken, cut anywhere, and the rows
    come back with numeric(12,2), timestamptz, jsonb, uuid, bytea, text[]... intact."""
    payload = await _binary_copy_of(url, TYPED_ROWS, TYPED)
    async with writer.open(PIPELINE, "s", "typed", TYPED, mode, 1) as sink:
        assert tuple(sink.formats) == (
            FrameFormat.POSTGRES_BINARY,
            FrameFormat.CSV,
            FrameFormat.JSON_LINES,
            FrameFormat.ROWS,
        )
        batch = Batch(FrameFormat.POSTGRES_BINARY, _chunks(payload, 7), at(2))
        written = await sink.write(batch)
        await sink.finish()
    assert written.rows == len(TYPED_ROWS)
    assert written.bytes == len(payload)
    assert await read_rows(url, "typed") == TYPED_ROWS


async def test_a_user_defined_type_goes_as_text_or_rows_never_as_binary(
    writer: StreamWriter, url: str
) -> None:
    """An enum (and an array of it) has another oid on every server: the stream takes text
    frames or rows, refuses binary frames, and keeps the type."""
    await execute(url, "CREATE TYPE mood AS ENUM ('sad', 'happy')")
    shape = Shape((Column("id", "bigint"), Column("m", "mood"), Column("ms", "mood[]")), ("id",))
    async with writer.open(PIPELINE, "s", "moods", shape, WriteMode.UPSERT, 1) as sink:
        assert tuple(sink.formats) == (FrameFormat.CSV, FrameFormat.JSON_LINES, FrameFormat.ROWS)
        with pytest.raises(StreamFailed, match="cannot take postgres_binary"):
            await sink.write(Batch(FrameFormat.POSTGRES_BINARY, _chunks(b"", 1), at(0)))
        await sink.write(rows_batch([(1, "happy", ["sad", "happy"]), (2, None, None)], at(2)))
    assert await read_rows(url, "moods") == [(1, "happy", "{sad,happy}"), (2, None, None)]
    assert (
        await value(
            url,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'moods'::regclass AND attname = 'ms'",
        )
        == "mood[]"
    )


async def test_binary_frames_are_written_in_blocks_of_256_kib() -> None:
    """Many small frames become few writes of at least 256 KiB; a big frame goes as it is."""

    class Recorder:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        async def write(self, data: bytes) -> None:
            self.sizes.append(len(data))

    async def frames() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x" * 1000
        yield b"y" * 300_000

    recorder = Recorder()
    await copying._pass_through(recorder, Batch(FrameFormat.POSTGRES_BINARY, frames()))  # type: ignore[arg-type]
    assert sum(recorder.sizes) == 1_300_000
    assert all(size >= copying.WRITE_BYTES for size in recorder.sizes[:-1])
    assert len(recorder.sizes) <= 5


async def test_a_big_frame_is_written_without_being_copied() -> None:
    """A frame larger than a block is handed to the COPY as it is, even after small frames
    were gathered: memory does not grow with the frame, and the bytes arrive in order."""

    class Digest:
        def __init__(self) -> None:
            self.digest, self.sizes = hashlib.sha256(), list[int]()

        async def write(self, data: bytes) -> None:
            self.digest.update(data)
            self.sizes.append(len(data))

    small, big = b"x" * 1000, bytes(range(256)) * (64 * 1024)  # 16 MiB

    async def frames() -> AsyncIterator[bytes]:
        yield small
        yield big
        yield small

    written = Digest()
    tracemalloc.start()
    try:
        await copying._pass_through(written, Batch(FrameFormat.POSTGRES_BINARY, frames()))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written.digest.digest() == hashlib.sha256(small + big + small).digest()
    assert all(size >= copying.WRITE_BYTES for size in written.sizes[:-1])
    assert peak < 4 * copying.WRITE_BYTES


# --- names, types and keys ---------------------------------------------------------------


async def test_a_dotted_table_name_creates_no_schema(writer: StreamWriter, url: str) -> None:
    """'sales.orders' is a table in the configured schema; no schema 'sales' appears."""
    async with writer.open(PIPELINE, "s", "sales.orders", SHAPE, WriteMode.APPEND, 1) as sink:
        await sink.write(rows_batch(orders(1), at(1)))
    assert await value(url, "SELECT to_regnamespace('sales')") is None
    assert await read_rows(url, "sales.orders") == orders(1)


@pytest.mark.parametrize(
    "spelling", ["integer); DROP TABLE victim; --", "text' || 'x", "int4 /* */", "nosuchtype"]
)
async def test_a_type_spelling_that_is_not_a_type_fails_naming_the_column(
    writer: StreamWriter, url: str, spelling: str
) -> None:
    """A type that is not a plain type name never reaches DDL: the stream fails naming the
    column, and nothing else in the database changes."""
    await execute(url, "CREATE TABLE victim (x int)")
    shape = Shape((Column("id", "bigint"), Column("evil", spelling)))
    with pytest.raises(StreamFailed, match="'evil'"):
        async with writer.open(PIPELINE, "s", "t", shape, WriteMode.APPEND, 1):
            pass
    assert await value(url, "SELECT to_regclass('victim') IS NOT NULL")
    assert await value(url, "SELECT to_regclass('t')") is None


async def test_the_state_table_is_refused_by_what_it_is_not_only_by_its_name(
    writer: StreamWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the name check ever miss it, a destination that is the state table itself (by
    oid) still fails the stream for good."""
    monkeypatch.setattr(writer_module, "RESERVED_PREFIX", "_not_the_prefix_")
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 1):
        pass
    with pytest.raises(StreamFailed, match="keeps for itself") as refused:
        async with writer.open("evil", "e", "_thedata_state", SHAPE, WriteMode.APPEND, 1):
            pass
    assert not refused.value.retryable


async def test_an_upsert_into_a_table_without_a_key_adds_it_and_refuses_another_key(
    writer: StreamWriter, url: str
) -> None:
    """A table with no primary key gets the stream's; one keyed otherwise fails the stream."""
    await execute(url, "CREATE TABLE a (id bigint, updated bigint, note text)")
    async with writer.open(PIPELINE, "a", "a", SHAPE, WriteMode.UPSERT, 1) as sink:
        await sink.write(rows_batch(orders(1), at(1)))
        await sink.write(rows_batch([(1, 2, "again")], at(2)))
    assert await read_rows(url, "a") == [(1, 2, "again")]
    await execute(url, "CREATE TABLE b (id bigint, updated bigint PRIMARY KEY, note text)")
    with pytest.raises(StreamFailed, match="another primary key"):
        async with writer.open(PIPELINE, "b", "b", SHAPE, WriteMode.UPSERT, 1):
            pass


async def test_a_state_table_from_before_definitions_keeps_its_positions(
    writer: StreamWriter, url: str
) -> None:
    """A state table created without the ``definition`` column gets it; a stream's stored
    position is kept (nothing says it was stored for another table) and bound from then on."""
    await execute(
        url,
        "CREATE TABLE _thedata_state (pipeline text NOT NULL, stream text NOT NULL, "
        "epoch bigint NOT NULL, position jsonb, updated_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (pipeline, stream))",
        sql.SQL("INSERT INTO _thedata_state VALUES ({}, 's', 1, {})").format(
            PIPELINE, '{"cursor": "2", "key": ["2"]}'
        ),
    )
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 2) as sink:
        assert sink.position == at(2)
    assert await value(url, "SELECT definition FROM _thedata_state") == {
        "table": "t",
        "mode": "upsert",
        "key": ["id"],
    }
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 3) as sink:
        assert sink.position == at(2)


async def test_positions_keep_keys_and_the_source_snapshot(writer: StreamWriter) -> None:
    """A position with several key values and a snapshot is read back as it was stored."""
    shape = Shape((Column("a", "text"), Column("b", "text"), Column("c", "bigint")), ("a", "b"))
    end = Position("2024-01-01 00:00:00+00", ("x,y", 'q"uote'), "100:105:101,103")
    async with writer.open(PIPELINE, "s", "t", shape, WriteMode.UPSERT, 1) as sink:
        await sink.write(rows_batch([("x,y", 'q"uote', 1)], end))
    async with writer.open(PIPELINE, "s", "t", shape, WriteMode.UPSERT, 2) as sink:
        assert sink.position == end


@pytest.mark.parametrize(
    "garbled",
    [
        '{"cursor": 1}',
        "[1]",
        '"x"',
        '{"cursor": "1", "key": ["1"], "extra": 1}',
        '{"cursor": "1", "key": "1"}',
    ],
)
async def test_a_stored_position_that_cannot_be_read_fails_the_stream_for_good(
    writer: StreamWriter, url: str, garbled: str
) -> None:
    """A position garbled in the state table (by hand, by another program) fails the open, and
    a publish that finds one, with our error asking for a full refresh, never msgspec's (what
    its values mean, a snapshot for one, is for the reader to judge); a full refresh, which
    needs no position, then runs and the stream starts over."""
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 1) as sink:
        await sink.write(rows_batch(orders(1), at(1)))
        await execute(
            url, sql.SQL("UPDATE _thedata_state SET position = {}").format(sql.Literal(garbled))
        )
        with pytest.raises(StreamFailed, match="cannot be read; run a full refresh") as failed:
            await sink.write(rows_batch(orders(2), at(2)))
        assert not failed.value.retryable
    with pytest.raises(StreamFailed, match="cannot be read; run a full refresh") as failed:
        async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 2):
            pass
    assert not failed.value.retryable
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.REPLACE, 3) as sink:
        await sink.write(rows_batch(orders(1, 2)))
        await sink.finish()
    async with writer.open(PIPELINE, "s", "t", SHAPE, WriteMode.UPSERT, 4) as sink:
        assert sink.position is None
    assert await read_rows(url, "t") == orders(1, 2)


async def test_a_user_without_rights_fails_the_stream_for_good_in_our_words(
    destination: Destination, url: str
) -> None:
    """Permission denied is a StreamFailed that retrying will not fix, with our message."""
    factory, config = destination
    role = f"weak_{uuid.uuid4().hex[:8]}"
    await execute(url, sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        weak = postgres_writer_for(factory, config, user=role)
        with pytest.raises(StreamFailed) as failed:
            async with weak.open(PIPELINE, "s", "t", SHAPE, WriteMode.APPEND, 1):
                pass
        assert str(failed.value) == PRIVILEGE
        assert not failed.value.retryable
    finally:
        await execute(url, sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
