"""Windows of transaction ids as lists: the same rows ``age(xmin)`` picks, wraparound included.

An incremental read judges a row by the transaction that wrote it: young (at or
after the horizon) or late (from the stored horizon up to this one). With few
ids in a window, ``xmin`` is looked up in a list of them instead of computing
``age(xmin)``. The oracle here is PostgreSQL's own ``age(xid)``: the 32-bit
distance back from the reading transaction's reference point, as a signed
integer, and ``INT_MAX`` for the permanent ids 0, 1 and 2.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from thedata.adapters.connectors.postgres.cursor import (
    XID_LIST_LIMIT,
    Horizon,
    late_age,
    xid_list,
)
from thedata.application.ports.streams import StreamFailed

INT_MAX = 2**31 - 1


def age(reference: int, xid: int) -> int:
    """PostgreSQL's ``age(xid)`` at a 32-bit ``reference`` point."""
    if xid < 3:
        return INT_MAX
    distance = (reference - xid) & 0xFFFFFFFF
    return distance - 2**32 if distance >= 2**31 else distance


def members(literal: str | None) -> set[int]:
    assert literal is not None
    assert literal[0] + literal[-1] == "{}"
    return {int(part) for part in literal[1:-1].split(",") if part}


# 64-bit ids as pg_current_snapshot() gives them: past several wraparounds of 32 bits
horizons = st.integers(3, 2**40)
windows = st.integers(0, 300)
xids = st.integers(0, 2**32 - 1)


@given(horizon=horizons, young=windows, xid=xids, near=st.integers(-400, 400))
@example(horizon=2**32 - 5, young=10, xid=1, near=6)  # the window wraps past 2^32
@example(horizon=3 * 2**32 - 1, young=4, xid=2, near=1)
@example(horizon=2**32 + 1, young=3, xid=0, near=-2)  # it starts just past a wrap
def test_the_young_list_holds_exactly_the_ids_age_calls_young(
    horizon: int, young: int, xid: int, near: int
) -> None:
    """``xmin`` in the list of ids from the horizon to the reference point exactly when
    ``age(xmin) BETWEEN 0 AND young``."""
    reference = (horizon + young) & 0xFFFFFFFF
    listed = members(xid_list(horizon, horizon + young + 1))
    for candidate in (xid, (horizon + near) & 0xFFFFFFFF, 0, 1, 2):
        assert (candidate in listed) == (0 <= age(reference, candidate) <= young)


@given(horizon=horizons, young=windows, behind=st.integers(0, 300), near=st.integers(-700, 400))
@example(horizon=2**32 + 4, young=2, behind=9, near=-3)  # the late window spans a wrap
@example(horizon=3 * 2**32, young=0, behind=1, near=-1)
def test_the_late_list_holds_exactly_the_ids_age_calls_late(
    horizon: int, young: int, behind: int, near: int
) -> None:
    """``xmin`` in the list of ids from the stored horizon up to this one exactly when
    ``age(xmin) <= late AND age(xmin) > young``, ``late`` being what the read computes."""
    stored = max(3, horizon - behind)
    reference = (horizon + young) & 0xFFFFFFFF
    late = late_age(Horizon(f"{horizon}:{horizon}:", horizon, young), stored)
    listed = members(xid_list(stored, horizon))
    for candidate in ((horizon + near) & 0xFFFFFFFF, (stored - 1) & 0xFFFFFFFF, 0, 1, 2):
        in_window = late is not None and young < age(reference, candidate) <= late
        assert (candidate in listed) == in_window


def test_a_window_wider_than_the_limit_is_left_to_age() -> None:
    assert xid_list(10, 10 + XID_LIST_LIMIT) is not None
    assert xid_list(10, 11 + XID_LIST_LIMIT) is None
    assert xid_list(10, 10) == "{}"


def test_a_late_window_reaching_the_oldest_age_is_refused() -> None:
    """``age()`` gives the permanent ids ``INT_MAX``: a look-back that far would take every
    frozen row again (duplicates in append mode), so it is refused like an older one."""
    horizon = Horizon("1000:1000:", 1000, 0)
    assert late_age(horizon, 1000 - (2**31 - 2)) == 2**31 - 2
    for stored in (1000 - (2**31 - 1), 1000 - 2**31):
        with pytest.raises(StreamFailed, match="older than 2\\^31"):
            late_age(horizon, stored)
