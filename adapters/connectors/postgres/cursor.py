"""An incremental read as SQL: which rows, in what order, cut into which batches.

Rows come in ``(cursor, key...)`` order after the stored position, compared as
one row value with each text cast back to its column's type: exact on ties.
A table without a key is ordered by ``(cursor, tableoid, ctid)`` instead.

Rows committed late are found by transaction ids, with one rule that needs no
knowledge of subtransactions (whose ids ``pg_current_snapshot()`` does not
list, so ``pg_visible_in_snapshot`` cannot judge them): a read takes only rows
written by transactions older than every transaction still running when it
began (its snapshot's ``xmin``, the *horizon*), and the next read also takes
every row written at or after that horizon, whatever its cursor. A
subtransaction's id is larger than its parent's, so a row of a transaction
running at the first read is either still invisible or at or past the horizon.
Rows are never lost; rows of young transactions wait for the next read.

When few rows are to be read (``ADDRESS_LIMIT``), a first pass lists their
addresses (``ctid``) and every later statement fetches just those: one pass
over the table, where a larger read makes three. An address names the same row version for
the whole read, since the snapshot keeps that version alive. The list
travels as a setting of the transaction, set by a statement with a
parameter: a ``COPY`` takes no parameters, and a list written into its text
would fill the source's logs and ``pg_stat_statements``. A table without
children is read ``ONLY``: a child attached while the read runs (which its
lock does not stop) stays out, as the snapshot's catalog says.

Transaction ids are compared with ``age(xmin)``, which counts back from the
reading transaction's own reference point in 32 bits: exact for rows written
within the last 2^31 transactions; a horizon older than that is refused. When
a window holds few ids (``XID_LIST_LIMIT``), the first passes judge rows by
``xmin`` being one of them instead: the same test, but one a parallel scan
may run (``age`` may not), which halves the first pass on two cores. Only
on PostgreSQL 15 and later, which looks such a list up in a hash table for
``NOT (xmin = ANY ...)`` too (14 does for ``= ANY`` only, 13 for neither:
10,000 ids would cost 10,000 comparisons a row).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from attrs import frozen
from psycopg import sql

from thedata.adapters.connectors.postgres.shape import SourceTable
from thedata.application.ports.streams import Position, ReadPlan, StreamFailed

HORIZON = """
SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text,
       age(xid(pg_snapshot_xmin(pg_current_snapshot()))), pg_is_in_recovery(),
       current_setting('server_version_num')::integer
"""
"""The read's snapshot and horizon, and the server's own version (a proxy may report another
when the connection starts)."""
_SNAPSHOT = re.compile(r"(\d+):(\d+):(?:\d+(?:,\d+)*)?")
_LONGEST_AGE = 2**31 - 1
ADDRESS_LIMIT = 20_000
"""Up to this many rows to read, they are fetched by address (a setting of about 250 KB);
past it, by scanning the table. The pass stops counting there, but on a read that moves more
rows it may still have looked at most of the table."""
ADDRESSES = """
SELECT set_config('thedata.addresses', %s, true), set_config('enable_seqscan', 'off', true),
       set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
"""
"""The listed addresses, and a TID scan as the only plan the read's statements may take: left
to itself, the planner may walk an index on the cursor instead (it matches their order) and
test every row against the list, which is not a constant, so not hashed: 20,000 comparisons
a row (3.4 s for 2,000 rows, measured)."""
SCANS_AGAIN = (
    "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT;"
    " SET LOCAL enable_bitmapscan TO DEFAULT"
)
"""The planner's own choice again, for the whole table's fingerprint."""
RELATIONS = """
WITH RECURSIVE tree (oid) AS (
    SELECT %s::oid
    UNION ALL
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid
)
SELECT array_agg(oid)::text FROM tree
"""
"""A table with children and all their children, as the read's snapshot has them."""
# a scalar subquery: the list is parsed once, whatever the plan
_AT_ADDRESSES = sql.SQL("ctid = ANY ((SELECT current_setting('thedata.addresses')::tid[])::tid[])")
_AGE = sql.SQL("age(xmin)")
XID_LIST_LIMIT = 10_000
"""Up to this many transaction ids in a window, ``xmin`` is looked up in a list of them (a
parameter of about 110 KB)."""
XID_LISTS_SINCE = 150_000
"""The first server version that hashes ``NOT (xmin = ANY (list))``."""
_FIRST_NORMAL_XID = 3
"""Lower ids are permanent ones (invalid, bootstrap, frozen), which ``age`` calls infinitely
old: never in a window."""

REPLACED = (
    "the stored position's snapshot is ahead of the source (was the source restored or "
    "replaced?): the stream needs a full refresh"
)
TOO_OLD = (
    "the stored position is older than 2^31 transactions of the source: rows written since "
    "cannot be told apart any more; the stream needs a full refresh"
)


@frozen
class Horizon:
    """The reading transaction's snapshot, its horizon, and how young a row may be to wait."""

    snapshot: str
    """``pg_current_snapshot()`` as text: stored with every position of the read."""
    xmin: int
    """The horizon: the oldest transaction id still running when the read began."""
    young: int
    """``age()`` of the horizon: rows with ``age(xmin)`` in ``[0, young]`` wait."""

    @property
    def quiet(self) -> bool:
        """No transaction was running: every row the snapshot sees is settled."""
        found = _SNAPSHOT.fullmatch(self.snapshot)
        return found is not None and int(found.group(2)) == self.xmin


def xid_list(first: int, stop: int) -> str | None:
    """The transaction ids ``first`` up to ``stop`` (64-bit, ``stop`` excluded) as the 32-bit
    ``xid[]`` literal ``xmin`` is compared with, permanent ids left out (``None``: more than
    ``XID_LIST_LIMIT`` of them)."""
    if stop - first > XID_LIST_LIMIT:
        return None
    ids = (n & 0xFFFFFFFF for n in range(first, stop))
    return "{" + ",".join(str(i) for i in ids if i >= _FIRST_NORMAL_XID) + "}"


def stored_horizon(position: Position | None) -> int | None:
    """The horizon of the read that stored ``position`` (``None``: it stored no snapshot)."""
    if position is None or position.snapshot is None:
        return None
    found = _SNAPSHOT.fullmatch(position.snapshot)
    if found is None:
        raise StreamFailed("the stored position's snapshot is not a PostgreSQL snapshot")
    return int(found.group(1))


def late_age(horizon: Horizon, stored: int | None) -> int | None:
    """The largest ``age(xmin)`` of a row written at or after the ``stored`` horizon
    (``None``: there is no such row to look for)."""
    if stored is None:
        return None
    if stored > horizon.xmin:
        raise StreamFailed(REPLACED)
    if stored == horizon.xmin:  # no transaction ended since: nothing can have come in late
        return None
    oldest = horizon.young + (horizon.xmin - stored)
    if oldest >= _LONGEST_AGE:  # age() calls the permanent ids INT_MAX old: never late
        raise StreamFailed(TOO_OLD)
    return oldest


@frozen
class Boundary:
    """Where a batch ends: the number of rows up to it and its last row's text forms."""

    rows: int
    values: tuple[str, ...]


@frozen
class LateEnd:
    """Where a batch of late rows ends: the number of late rows up to it, and the horizon its
    position stores (``None``: the read's own snapshot, for the last one)."""

    rows: int
    horizon: int | None

    def snapshot(self, read: Horizon) -> str:
        """The snapshot text its position stores: only its horizon matters to the next read."""
        return read.snapshot if self.horizon is None else f"{self.horizon}:{self.horizon}:"


@frozen
class Cuts:
    """What the first pass found: where the batches of late rows and of the others end."""

    late: tuple[LateEnd, ...]
    ends: tuple[Boundary, ...]


class IncrementalSql:
    """The statements of one incremental read of ``table`` under ``plan``."""

    def __init__(
        self,
        table: SourceTable,
        plan: ReadPlan,
        horizon: Horizon,
        *,
        server_version: int,
        relations: str | None = None,
    ) -> None:
        assert plan.cursor_field is not None  # noqa: S101 - the reader only builds it then
        cursor, key = plan.cursor_field, plan.shape.primary_key
        for name in (cursor, *key):
            if name not in table.cast_types:
                raise StreamFailed(f"the source table {table.name!r} has no column {name!r}")
        self._table = table.read_from
        self._cursor, self._names = cursor, (cursor, *key)
        nullable = {c.name for c in table.shape.columns if c.nullable}
        if key:
            order: list[sql.Composable] = [sql.Identifier(name) for name in (cursor, *key)]
            casts = [table.cast_types[name] for name in (cursor, *key)]
            self._checked = [name for name in (cursor, *key) if name in nullable or name == cursor]
        else:  # no key: the row's place in the table breaks ties, exact within a snapshot
            order = [sql.Identifier(cursor), sql.SQL("tableoid"), sql.SQL("ctid")]
            casts = [table.cast_types[cursor], "oid", "tid"]
            self._checked = [cursor]
        self._order, self._casts = order, casts
        self._horizon, self._batch = horizon, plan.batch_rows
        self._params: dict[str, Any] = {"young": horizon.young, "batch": plan.batch_rows}
        self._quiet = horizon.quiet
        after = plan.after
        if after is not None and len(after.key) != len(order) - 1:
            raise StreamFailed(
                "the stored position does not fit the stream's key any more (was the key "
                "changed?): the stream needs a full refresh"
            )
        self._after = after
        self._plain, self._addressed = table.plain, False
        # a table with children: only the relations of the snapshot's catalog (``RELATIONS``);
        # the planner takes children from the latest one, and one attached meanwhile (which
        # the read's lock does not stop) would give the COPY rows the cuts did not count
        self._relations = self._params["relations"] = relations
        if after is not None:
            for n, text in enumerate((after.cursor, *after.key)):
                self._params[f"p{n}"] = text
        stored = stored_horizon(after)
        oldest = late_age(horizon, stored)
        self._looks_back = oldest is not None
        if oldest is not None:
            self._params["late"] = oldest
        # the young: age 0 (the reference point) back to the horizon; the late: the stored
        # horizon up to this one
        lists = server_version >= XID_LISTS_SINCE
        young_ids = xid_list(horizon.xmin, horizon.xmin + horizon.young + 1) if lists else None
        late_ids = xid_list(stored, horizon.xmin) if lists and stored is not None else None
        self._params.update(young_ids=young_ids, late_ids=late_ids)

    @property
    def params(self) -> dict[str, Any]:
        """The values every statement here is run with."""
        return self._params

    def _ordered(self) -> sql.Composable:
        return sql.SQL(", ").join(self._order)

    def _past(self) -> sql.Composable:
        """The row comes after the stored position (true when there is none)."""
        if self._after is None:
            return sql.SQL("true")
        bound = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Placeholder(f"p{n}"), sql.SQL(cast))
            for n, cast in enumerate(self._casts)
        )
        return sql.SQL("({}) > ({})").format(self._ordered(), bound)

    def _settled(self, *, lists: bool) -> sql.Composable:
        """The row's transaction is older than every one running when the read began (with
        ``lists``, by a list of ids when the window is short: not for a ``COPY``, whose
        parameters are written into its text)."""
        if self._quiet:
            return sql.SQL("true")
        if lists and self._params["young_ids"] is not None:
            return sql.SQL("NOT (xmin = ANY ({}::xid[]))").format(sql.Placeholder("young_ids"))
        return sql.SQL("NOT ({} BETWEEN 0 AND {})").format(_AGE, sql.Placeholder("young"))

    def _late(self, *, lists: bool) -> sql.Composable:
        """The row was written at or after the stored horizon, and is settled (false when
        there is nothing to look back for; ``lists`` as for ``_settled``). Old rows fail the
        first test: one ``age`` call."""
        if not self._looks_back:
            return sql.SQL("false")
        if lists and self._params["late_ids"] is not None:
            return sql.SQL("xmin = ANY ({}::xid[])").format(sql.Placeholder("late_ids"))
        return sql.SQL("{} <= {} AND {} > {}").format(
            _AGE, sql.Placeholder("late"), _AGE, sql.Placeholder("young")
        )

    def _candidates(self) -> sql.Composable:
        """Every row the read must look at: a NULL to refuse, one after the position, a late
        one."""
        return sql.SQL("{} OR ({} AND {}) OR ({})").format(
            self._null(), self._past(), self._settled(lists=True), self._late(lists=True)
        )

    def _reading(self, condition: sql.Composable) -> sql.Composed:
        """``FROM`` the table ``WHERE`` the condition holds: only at the listed addresses, when
        the read has them."""
        if self._addressed:
            condition = sql.SQL("{} AND ({})").format(_AT_ADDRESSES, condition)
        elif self._relations is not None:
            condition = sql.SQL("tableoid = ANY ({}::oid[]) AND ({})").format(
                sql.Placeholder("relations"), condition
            )
        return sql.SQL("FROM {} WHERE {}").format(self._table, condition)

    def addresses(self) -> sql.Composed | None:
        """A pass that counts the rows to read, up to ``ADDRESS_LIMIT`` + 1, and lists their
        addresses when there are no more than that (``None``: the table has children, whose
        addresses repeat those of the table)."""
        if not self._plain:
            return None
        return sql.SQL(
            "SELECT count(*), CASE WHEN count(*) <= {limit} THEN array_agg(ctid)::text END"
            " FROM (SELECT ctid FROM {table} WHERE {candidates} LIMIT {limit} + 1) listed"
        ).format(limit=sql.Literal(ADDRESS_LIMIT), table=self._table, candidates=self._candidates())

    @property
    def relations(self) -> str | None:
        """The relations a table with children is read from (``RELATIONS``'s answer)."""
        return self._relations

    @property
    def addressed(self) -> bool:
        """Whether the read's statements fetch the rows at the listed addresses only."""
        return self._addressed

    def by_address(self, count: int) -> bool:
        """Take the address pass's count: whether every later statement reads only the rows at
        the listed addresses (there are few enough of them), once ``ADDRESSES`` set them. Those
        are exactly the candidates, found in the read's snapshot with these parameters: the
        cuts and ``select`` do not test them again."""
        self._addressed = 0 < count <= ADDRESS_LIMIT
        return self._addressed

    def _null(self) -> sql.Composable:
        return sql.SQL(" OR ").join(
            sql.SQL("{} IS NULL").format(sql.Identifier(name)) for name in self._checked
        )

    def cuts(self) -> sql.Composed:
        """One pass over the rows to read, each kind in its order: a row with a NULL cursor or
        key (kind 0); the late rows at or below the position (kind 1), by transaction, the
        last of each transaction with its ``age``; the rows after it (kind 2), every
        ``batch``-th and the last, with their order values as text."""
        aliases = [sql.Identifier(f"_o{n}") for n in range(len(self._order))]
        return sql.SQL(
            "SELECT kind, n, age, {texts} FROM ("
            " SELECT kind, age, {aliases}, row_number() OVER w AS n,"
            " lead(true) OVER w IS NULL AS last, lead(age) OVER w IS DISTINCT FROM age AS turn"
            " FROM ("
            "  SELECT CASE WHEN {null} THEN 0 WHEN {past} THEN 2 ELSE 1 END AS kind,"
            "  {age} AS age, {aliased}"
            "  {reading}"
            " ) candidates WINDOW w AS ("
            "  PARTITION BY kind ORDER BY CASE WHEN kind = 1 THEN age END DESC, {aliases})"
            ") numbered"
            " WHERE last OR (kind = 1 AND turn) OR (kind = 2 AND mod(n, {batch}) = 0)"
            " ORDER BY kind, n"
        ).format(
            age=_AGE,
            texts=sql.SQL(", ").join(sql.SQL("{}::text").format(a) for a in aliases),
            aliases=sql.SQL(", ").join(aliases),
            aliased=sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(o, a) for o, a in zip(self._order, aliases, strict=True)
            ),
            null=self._null(),
            past=self._past(),
            # the listed rows are the candidates, found in this very snapshot
            reading=self._reading(sql.SQL("true") if self._addressed else self._candidates()),
            batch=sql.Placeholder("batch"),
        )

    def read_cuts(self, rows: Sequence[tuple[Any, ...]]) -> Cuts:
        """The first pass's answer; ``StreamFailed`` naming a column that holds NULL."""
        turns, ends = [], []
        for kind, n, age, *values in rows:
            if kind == 0:
                column = next(
                    (name for name, v in zip(self._names, values, strict=False) if v is None),
                    self._cursor,
                )
                what = "cursor" if column == self._cursor else "key"
                raise StreamFailed(
                    f"the {what} column {column!r} holds NULL values: such rows cannot be "
                    "ordered, so the stream stops rather than skip them"
                )
            if kind == 1:
                turns.append((int(n), int(age)))
            else:
                ends.append(Boundary(int(n), tuple(str(v) for v in values)))
        return Cuts(self._late_ends(turns), tuple(ends))

    def _late_ends(self, turns: Sequence[tuple[int, int]]) -> tuple[LateEnd, ...]:
        """Batches of whole transactions, at most ``batch`` rows unless one transaction alone
        has more. ``turns``: the count of late rows up to the end of each transaction, and its
        ``age``, oldest first. A batch that is not the last stores as its horizon the id of
        the first transaction it leaves out: the next read looks back from there, so it takes
        exactly the late rows not yet handed out."""
        ends, start, stable = [], 0, self._horizon.xmin + self._horizon.young
        for (before, _), (count, age) in zip([(0, 0), *turns], turns, strict=False):
            if count - start > self._batch and before > start:
                ends.append(LateEnd(before, stable - age))
                start = before
        if turns:
            ends.append(LateEnd(turns[-1][0], None))
        return tuple(ends)

    def select(self, columns: Sequence[str], *, late: bool) -> sql.Composed:
        """The late rows (at or below the position) or the rows after it, in order."""
        if self._addressed:  # the listed rows after the position are settled, the others late
            where = sql.SQL("NOT {}" if late else "{}").format(self._past())
        elif late:
            where = sql.SQL("NOT {} AND {}").format(self._past(), self._late(lists=False))
        else:
            where = sql.SQL("{} AND {}").format(self._past(), self._settled(lists=False))
        order = sql.SQL("{} DESC, {}").format(_AGE, self._ordered()) if late else self._ordered()
        return sql.SQL("SELECT {} {} ORDER BY {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), self._reading(where), order
        )

    def copy(self, columns: Sequence[str], *, late: bool, binary: bool) -> sql.Composed:
        """``COPY`` of ``select``'s rows, as binary COPY or text."""
        return sql.SQL("COPY ({}) TO STDOUT (FORMAT {})").format(
            self.select(columns, late=late), sql.SQL("binary" if binary else "text")
        )
