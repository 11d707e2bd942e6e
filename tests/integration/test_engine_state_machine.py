"""The engine on the real PostgreSQL reader and writer, driven at random through interruptions.

A hypothesis state machine changes a source table (inserts; updates that move
the cursor on, tie with the latest value or go back; transactions left open
across reads that write rows with old cursor values and commit or roll back
later; vacuums) and moves it with ``move_stream`` into three streams of
another database on the same server: upsert, append and full refresh. Runs
die before any batch, between a batch's rows and its state update (or just
after the update, before the commit), or before a full refresh's finish, and
are resumed by a new attempt or by the same one; others are superseded by a
larger epoch mid-stream, and come back as zombies. Reads fetch the rows by
address or by scanning the table, and tell transactions apart by lists of ids
or by ``age`` alone, switching at random between runs. The oracle is the source
itself, read with a plain SELECT:

- after a run completes, the full refresh's table equals the source, and so
  does the upsert's when no transaction was running at the read (the reader
  holds back rows of transactions younger than a running one); the append's
  holds every row version the source has;
- after every step: no key twice (no row version twice in the append), no row
  the source never had, an append only grows, a full refresh that died left
  its old table, and a fenced attempt changed nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import psycopg
import pytest
from attrs import Factory, define
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import TEST_DATABASE_PREFIX, tcp_endpoint
from tests.contract.test_stream_readers import postgres_reader_for
from tests.contract.test_stream_writers import postgres_writer_for
from thedata.adapters.connectors import DefaultConnectorFactory, NetworkPolicy
from thedata.adapters.connectors.postgres import cursor as incremental_sql
from thedata.adapters.connectors.postgres.state import STATE_TABLE, StreamState
from thedata.application.move_stream import move_stream
from thedata.application.ports import (
    Batch,
    DestinationStream,
    Fingerprint,
    FrameFormat,
    Position,
    Shape,
    StreamReader,
    StreamWriter,
    Superseded,
    WriteMode,
    Written,
)
from thedata.domain.pipelines import Stream, StreamMode

pytestmark = pytest.mark.postgres

Row = tuple[Any, ...]
Hook = Callable[[], Awaitable[None]]
KINDS = ("upsert", "append", "full")
MOVES = st.sampled_from(["next", "tie", "back"])
"""Where a written row's cursor goes: past every value so far, onto the latest, or below it."""


class Crash(Exception):
    """The worker died here."""


class HookedSink:
    """A destination stream that runs ``before_write(n)`` ahead of its n-th write (from 0) and
    ``before_finish`` ahead of its finish: where a test kills or supersedes the attempt."""

    def __init__(
        self,
        sink: DestinationStream,
        before_write: Callable[[int], Awaitable[None]],
        before_finish: Hook,
    ) -> None:
        self._sink, self._before_write, self._before_finish = sink, before_write, before_finish
        self._writes = 0

    @property
    def position(self) -> Position | None:
        return self._sink.position

    @property
    def formats(self) -> Sequence[FrameFormat]:
        return self._sink.formats

    async def write(self, batch: Batch) -> Written:
        await self._before_write(self._writes)
        self._writes += 1
        return await self._sink.write(batch)

    async def finish(self) -> None:
        await self._before_finish()
        await self._sink.finish()

    async def fingerprint(self) -> Fingerprint | None:
        return await self._sink.fingerprint()


class HookedWriter:
    """The real writer, its streams wrapped in ``HookedSink``."""

    def __init__(
        self,
        writer: StreamWriter,
        before_write: Callable[[int], Awaitable[None]],
        before_finish: Hook,
    ) -> None:
        self._writer, self._before_write, self._before_finish = writer, before_write, before_finish

    @asynccontextmanager
    async def open(
        self, pipeline: str, stream: str, table: str, shape: Shape, mode: WriteMode, epoch: int
    ) -> AsyncIterator[DestinationStream]:
        async with self._writer.open(pipeline, stream, table, shape, mode, epoch) as sink:
            yield HookedSink(sink, self._before_write, self._before_finish)


async def nothing(*_: Any) -> None:
    """A hook that lets the attempt go on."""


@contextmanager
def publish_dies(saves_before: int, *, after_the_update: bool) -> Iterator[None]:
    """The publish after ``saves_before`` successful ones dies inside its transaction, once its
    rows are in: before the state update, or just after it (before the commit)."""
    real_save = StreamState.save
    saves = itertools.count()

    async def save(state: StreamState, connection: Any, end: Position | None) -> None:
        dies = next(saves) >= saves_before
        if dies and not after_the_update:
            raise Crash
        await real_save(state, connection, end)
        if dies:
            raise Crash

    with patch.object(StreamState, "save", save):
        yield


@define
class Late:
    """A source transaction left open across reads: it ends after ``runs`` more runs."""

    connection: psycopg.Connection[Any]
    runs: int
    commits: bool
    written: dict[int, Row] = Factory(dict)
    held: list[int] = Factory(list)
    """The committed ids it updated (no other change may touch them: they would wait)."""


class EngineMachine(RuleBasedStateMachine):
    """Random source changes and runs of the three streams, against the source as oracle."""

    loop: asyncio.AbstractEventLoop
    source_url: str
    destination_url: str
    reader: StreamReader
    writer: StreamWriter

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:10]
        self.table = f"orders_{tag}"
        # one pipeline per stream: the state row is kept per (pipeline, stream name)
        self.streams = {
            "upsert": Stream(
                self.table, f"{self.table}_up", StreamMode.INCREMENTAL, "updated", ("id",)
            ),
            "append": Stream(self.table, f"{self.table}_log", StreamMode.INCREMENTAL, "updated"),
            "full": Stream(
                self.table, f"{self.table}_copy", StreamMode.FULL_REFRESH, None, ("id",)
            ),
        }
        self.pipelines = {kind: f"p_{tag}_{kind}" for kind in self.streams}
        self.address_limit = incremental_sql.ADDRESS_LIMIT
        self.xid_list_limit = incremental_sql.XID_LIST_LIMIT
        self.source = psycopg.connect(self.source_url, autocommit=True)
        self.destination = psycopg.connect(self.destination_url, autocommit=True)
        # no primary key, so that a stream without a declared key appends; the upsert
        # declares "id", which the model keeps unique
        self.source.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint NOT NULL, updated bigint NOT NULL, value text)"
            ).format(sql.Identifier(self.table))
        )
        self.clock = 0
        self.new_ids = itertools.count(1)
        self.versions = itertools.count(1)
        self.ids: list[int] = []
        """Committed ids no open transaction holds: the ones a change may update."""
        self.history: set[Row] = set()
        """Every row version the source committed (each version's value is unique)."""
        self.open: list[Late] = []
        """The source transactions left open, oldest first."""
        self.epochs = itertools.count(1)
        self.appended: Counter[Row] = Counter()
        self.behind: set[str] = set()
        """The streams the source changed for since their last complete run."""

    def teardown(self) -> None:
        for late in self.open:
            late.connection.close()
        self.source.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.table)))
        for kind, stream in self.streams.items():
            self.destination.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(stream.destination))
            )
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                self.destination.execute(
                    sql.SQL("DELETE FROM {} WHERE pipeline = %s").format(
                        sql.Identifier(STATE_TABLE)
                    ),
                    (self.pipelines[kind],),
                )
        self.source.close()
        self.destination.close()

    # --- the source -----------------------------------------------------------------------

    def cursor(self, move: str, pick: int) -> int:
        if move == "next":
            self.clock += 1
        return self.clock if move != "back" else pick % (self.clock + 1)

    def version(self, row_id: int, cursor: int) -> Row:
        return (row_id, cursor, f"v{next(self.versions)}")

    def insert(self, connection: psycopg.Connection[Any], row: Row) -> None:
        connection.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(sql.Identifier(self.table)), row
        )

    def update(self, connection: psycopg.Connection[Any], row: Row) -> None:
        connection.execute(
            sql.SQL("UPDATE {} SET updated = %s, value = %s WHERE id = %s").format(
                sql.Identifier(self.table)
            ),
            (row[1], row[2], row[0]),
        )

    @rule(
        changes=st.lists(
            st.tuples(st.booleans(), st.integers(0, 99), MOVES), min_size=1, max_size=6
        ),
        vacuum=st.sampled_from(["", "VACUUM", "VACUUM FREEZE"]),
    )
    def change(self, changes: list[tuple[bool, int, str]], vacuum: str) -> None:
        """Insert and update rows in one transaction (a row changed twice: its last version);
        then maybe a vacuum: dead row versions go (their places are reused), or every row is
        frozen."""
        final: dict[int, Row] = {}
        with self.source.transaction():
            for insert, pick, move in changes:
                if insert or not self.ids:
                    row = self.version(next(self.new_ids), self.cursor(move, pick))
                    self.insert(self.source, row)
                else:
                    row = self.version(self.ids[pick % len(self.ids)], self.cursor(move, pick))
                    self.update(self.source, row)
                final[row[0]] = row
        self.ids.extend(sorted(set(final) - set(self.ids)))
        self.history.update(final.values())
        self.behind = set(KINDS)
        if vacuum:
            self.source.execute(
                sql.SQL("{} {}").format(sql.SQL(vacuum), sql.Identifier(self.table))
            )

    @precondition(lambda self: len(self.open) < 2)
    @rule(
        inserts=st.integers(0, 2),
        update=st.booleans(),
        pick=st.integers(0, 99),
        savepoint=st.booleans(),
        runs=st.integers(1, 3),
        commits=st.booleans(),
    )
    def open_late(
        self, inserts: int, update: bool, pick: int, savepoint: bool, runs: int, commits: bool
    ) -> None:
        """A transaction starts, writes rows with old cursor values (new ones, or an update of
        a row) and stays open across the next runs; then it commits (its rows land below
        positions stored meanwhile) or rolls back (they must never reach a destination). Its
        writes may be in a savepoint, whose transaction id no snapshot lists."""
        late = Late(psycopg.connect(self.source_url), runs, commits)
        late.connection.execute("SELECT pg_current_xact_id()")  # a writer's id, from its start
        if savepoint:
            late.connection.execute("SAVEPOINT late")
        # from below every cursor so far (-1) up to a tie with the latest: below a position
        # stored while it runs, such a row comes only by the look-back (a tie comes by its key)
        old = pick % (self.clock + 2) - 1
        if update and self.ids:
            late.held.append(self.ids.pop(pick % len(self.ids)))
            row = self.version(late.held[0], old)
            self.update(late.connection, row)
            late.written[row[0]] = row
        for _ in range(inserts):
            row = self.version(next(self.new_ids), old)
            self.insert(late.connection, row)
            late.written[row[0]] = row
        if savepoint:
            late.connection.execute("RELEASE SAVEPOINT late")
        self.open.append(late)

    def ran(self) -> None:
        """A run is over: the open transactions whose time has come end."""
        for late in list(self.open):
            late.runs -= 1
            if late.runs > 0:
                continue
            self.open.remove(late)
            if late.commits:
                late.connection.commit()
                self.history.update(late.written.values())
                self.ids.extend(row_id for row_id in late.written if row_id not in late.held)
                self.behind = set(KINDS)
            else:
                late.connection.rollback()
            late.connection.close()
            self.ids.extend(late.held)

    # --- runs -----------------------------------------------------------------------------

    async def move(
        self,
        kind: str,
        epoch: int,
        batch_rows: int,
        before_write: Callable[[int], Awaitable[None]] = nothing,
        before_finish: Hook = nothing,
    ) -> None:
        with (
            patch.object(incremental_sql, "ADDRESS_LIMIT", self.address_limit),
            patch.object(incremental_sql, "XID_LIST_LIMIT", self.xid_list_limit),
        ):
            await move_stream(
                self.reader,
                HookedWriter(self.writer, before_write, before_finish),
                pipeline=self.pipelines[kind],
                stream=self.streams[kind],
                epoch=epoch,
                batch_rows=batch_rows,
            )

    @rule(
        limit=st.sampled_from([0, 1, incremental_sql.ADDRESS_LIMIT]),
        xid_lists=st.sampled_from([-1, 2, incremental_sql.XID_LIST_LIMIT]),
    )
    def reads_choose_a_path(self, limit: int, xid_lists: int) -> None:
        """Later reads fetch the rows by address up to ``limit`` of them, and scan the table
        past it (0: always); they tell transactions apart by lists of ids in windows of up to
        ``xid_lists`` ids, by ``age`` in longer ones (-1: always)."""
        self.address_limit = limit
        self.xid_list_limit = xid_lists

    def publish_dies(
        self, saves_before: int, *, after_the_update: bool
    ) -> contextlib.AbstractContextManager[None]:
        """Where the destination's publish dies (``publish_dies`` for PostgreSQL)."""
        return publish_dies(saves_before, after_the_update=after_the_update)

    def run(self, work: Awaitable[None]) -> None:
        self.loop.run_until_complete(work)

    def behind_first(self, data: st.DataObject) -> str:
        """A stream the source changed for, if any: a run with something to move has batches
        to die between."""
        return data.draw(st.sampled_from(sorted(self.behind) or KINDS), label="kind")

    @rule(
        data=st.data(),
        after=st.integers(0, 1),
        batch_rows=st.integers(1, 2),
        recover=st.sampled_from(["later", "new epoch", "same epoch"]),
    )
    def interrupted_run(
        self, data: st.DataObject, after: int, batch_rows: int, recover: str
    ) -> None:
        """The attempt dies before batch ``after + 1`` (or its finish, if it has fewer), or in
        the publish after ``after`` ones once its rows are in (before or after the state
        update), or a full refresh before its finish; if it gets through, it is a complete
        run. The next attempt may follow at once and complete: a new one, or the same one
        resuming (its epoch still holds the stream)."""
        kind = self.behind_first(data)
        # an incremental stream's finish publishes nothing: dying there is dying after a batch
        wheres = ["batch", "rows", "state"] + (["finish"] if kind == "full" else [])
        where = data.draw(st.sampled_from(wheres), label="where")

        async def before_write(n: int) -> None:
            if where == "batch" and n == after:
                raise Crash

        async def before_finish() -> None:
            if where in ("batch", "finish"):
                raise Crash

        table_before, epoch = self.rows_of(kind), next(self.epochs)
        dies = (
            self.publish_dies(after, after_the_update=where == "state")
            if where in ("rows", "state")
            else contextlib.nullcontext()
        )
        try:
            with dies:
                self.run(self.move(kind, epoch, batch_rows, before_write, before_finish))
        except Crash:
            if kind == "full":
                assert self.rows_of(kind) == table_before, "a full refresh that died changed"
            if recover != "later":
                self.complete(kind, batch_rows, epoch if recover == "same epoch" else None)
        else:
            self.check_complete(kind)
        self.ran()

    @rule(kind=st.sampled_from(KINDS), batch_rows=st.integers(1, 4))
    def complete_run(self, kind: str, batch_rows: int) -> None:
        """A run that completes, and leaves what a complete run must."""
        self.complete(kind, batch_rows)
        self.ran()

    def complete(self, kind: str, batch_rows: int, epoch: int | None = None) -> None:
        # rerun a few times while a transaction of the server's own (autoanalyze) held rows
        # back: that only delays them, and the oracle is exact only when nothing was running
        for attempt in range(8):
            self.run(self.move(kind, epoch or next(self.epochs), batch_rows))
            if kind == "full" or self.open or self.quiet(kind):
                break
            time.sleep(0.05 * attempt)
        self.check_complete(kind)

    @rule(
        data=st.data(),
        after=st.integers(0, 2),
        newer_completes=st.booleans(),
        batch_rows=st.integers(1, 2),
    )
    def superseded_run(
        self, data: st.DataObject, after: int, newer_completes: bool, batch_rows: int
    ) -> None:
        """A newer attempt opens the stream while this one is paused before batch ``after + 1``
        (or its finish), and completes or dies at once; this one's next write or finish raises
        ``Superseded`` and changes nothing, and so does its rerun with the same epoch, refused
        at open (a zombie)."""
        kind = self.behind_first(data)
        seen: list[Any] = []

        async def take_over(*_: Any) -> None:
            if seen:
                return
            if newer_completes:
                await self.move(kind, next(self.epochs), batch_rows)
            else:
                with contextlib.suppress(Crash):
                    await self.move(kind, next(self.epochs), batch_rows, dies_at_once)
            seen.append(self.fenced(kind))

        async def before_write(n: int) -> None:
            if n == after:
                await take_over()

        async def dies_at_once(_: int) -> None:
            raise Crash

        old = next(self.epochs)
        with pytest.raises(Superseded):
            self.run(self.move(kind, old, batch_rows, before_write, take_over))
        assert self.fenced(kind) == seen[0], "a superseded attempt changed the destination"
        with pytest.raises(Superseded):
            self.run(self.move(kind, old, batch_rows))
        assert self.fenced(kind) == seen[0], "a zombie changed the destination"
        if newer_completes:
            self.check_complete(kind)
        self.ran()

    # --- the oracle -----------------------------------------------------------------------

    def source_rows(self) -> list[Row]:
        query = sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(self.table))
        return list(self.source.execute(query).fetchall())

    def rows_of(self, kind: str) -> list[Row]:
        """The destination table's rows (``[]`` before it exists), in a stable order."""
        table = self.streams[kind].destination
        name = sql.Identifier(table).as_string(self.destination)
        found = self.destination.execute("SELECT to_regclass(%s)", (name,))
        exists = found.fetchone()
        if exists is None or exists[0] is None:
            return []
        query = sql.SQL("SELECT * FROM {} ORDER BY id, updated, value").format(
            sql.Identifier(table)
        )
        return list(self.destination.execute(query).fetchall())

    def state(self, kind: str) -> Row | None:
        """The stream's state row: its epoch and position."""
        found = self.destination.execute(
            sql.SQL("SELECT epoch, position FROM {} WHERE pipeline = %s AND stream = %s").format(
                sql.Identifier(STATE_TABLE)
            ),
            (self.pipelines[kind], self.table),
        )
        return found.fetchone()

    def fenced(self, kind: str) -> tuple[list[Row], Row | None]:
        """All a fenced attempt could touch: the table and the state row."""
        return self.rows_of(kind), self.state(kind)

    def quiet(self, kind: str) -> bool:
        """The committed position was read while no transaction was running on the source's
        server (its snapshot lists none): every row the source has was settled for it."""
        state = self.state(kind)
        position = None if state is None else state[1]
        if position is None:  # nothing read yet: the source had nothing settled
            return not self.open
        return str(position.get("snapshot")).split(":")[2:] == [""]

    def check_complete(self, kind: str) -> None:
        """What a completed run leaves (an upsert's or append's only if nothing was running)."""
        source, copied = self.source_rows(), self.rows_of(kind)
        exact = kind == "full" or self.quiet(kind)
        if exact and kind == "append":
            assert set(source) <= set(copied), "the appended stream misses a row version"
        elif exact:
            assert copied == source, f"the {kind} stream differs from the source"
        if exact:
            self.behind.discard(kind)

    @invariant()
    def no_key_twice_and_nothing_the_source_never_had(self) -> None:
        """Whatever died or was superseded: no duplicate, no invented row, no appended row lost."""
        for kind in self.streams:
            rows = self.rows_of(kind)
            assert set(rows) <= self.history, "a row the source never had"
            if kind == "append":
                counted = Counter(rows)
                assert max(counted.values(), default=1) == 1, "a row version appended twice"
                assert not self.appended - counted, "an appended row disappeared"
                self.appended = counted
            else:
                ids = [row[0] for row in rows]
                assert len(ids) == len(set(ids)), "a key twice"


SETTINGS = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""About 30 s on two cores: a run opens three connections and takes some 70 ms."""


@pytest.fixture
def destination_database_url(source_database_url: str) -> Iterator[str]:
    """A second database on the sources' server, for the streams' destination tables."""
    name = TEST_DATABASE_PREFIX + "destination_" + uuid.uuid4().hex[:12]
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(source_database_url, dbname=name)
    with psycopg.connect(source_database_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_the_engine_moves_every_mode_exactly_once_through_crashes_and_takeovers(
    source_database_url: str,
    destination_database_url: str,
    postgres_server_url: str,
    tmp_path: Path,
) -> None:
    """Random changes, late commits, runs killed or superseded anywhere: the destination never
    holds a row twice or one the source never had, and equals the source after a run."""
    factory = DefaultConnectorFactory(
        tmp_path, NetworkPolicy(allow_private=True), 5, control_database=postgres_server_url
    )
    loop = asyncio.new_event_loop()
    with (
        tcp_endpoint(source_database_url) as (host, port, database, user),
        tcp_endpoint(destination_database_url) as (d_host, d_port, d_database, d_user),
    ):
        EngineMachine.reader = postgres_reader_for(
            factory, {"host": host, "port": port, "database": database, "user": user}
        )
        EngineMachine.writer = postgres_writer_for(
            factory, {"host": d_host, "port": d_port, "database": d_database, "user": d_user}
        )
        EngineMachine.loop = loop
        EngineMachine.source_url, EngineMachine.destination_url = (
            source_database_url,
            destination_database_url,
        )
        try:
            run_state_machine_as_test(EngineMachine, settings=SETTINGS)
        finally:
            loop.close()
