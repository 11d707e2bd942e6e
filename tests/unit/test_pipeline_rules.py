"""Pipeline rules: streams, schedules and when a schedule is next due."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from cronsim import CronSim
from hypothesis import given
from hypothesis import strategies as st

from thedata.domain.errors import InvalidInput
from thedata.domain.pipelines import Stream, StreamMode, check_loopback, check_streams
from thedata.domain.schedules import Cron, EverySeconds, check_schedule, next_due

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

serial = itertools.count()


def stream(destination: str, mode: StreamMode = StreamMode.FULL_REFRESH, **kw: object) -> Stream:
    """A stream into ``destination``, read from a table of its own (names must be unique)."""
    return Stream(f"source_{next(serial)}", destination, mode, **kw)  # type: ignore[arg-type]


def test_streams_need_unique_destinations_and_incremental_ones_a_cursor() -> None:
    """Every problem is reported with a pointer to the stream's field."""
    with pytest.raises(InvalidInput) as raised:
        check_streams(
            [
                stream("a"),
                stream("a"),
                stream("b", StreamMode.INCREMENTAL),
                stream("c", primary_key=("id", "id")),
            ]
        )
    assert [e.field for e in raised.value.errors] == [
        "/streams/1/destination",
        "/streams/2/cursor_field",
        "/streams/3/primary_key",
    ]


def test_two_streams_of_one_name_are_refused() -> None:
    """Each stream's state is kept under its name, so a second stream of that name is refused."""
    with pytest.raises(InvalidInput) as raised:
        check_streams(
            [Stream("s", "a", StreamMode.FULL_REFRESH), Stream("s", "b", StreamMode.FULL_REFRESH)]
        )
    assert [e.field for e in raised.value.errors] == ["/streams/1/name"]


def test_a_stream_may_not_write_back_the_table_it_reads() -> None:
    """With one data source at both ends, a destination named like a stream's table is refused."""
    same = uuid4()
    check_loopback(uuid4(), same, [Stream("orders", "orders", StreamMode.FULL_REFRESH)])
    with pytest.raises(InvalidInput) as raised:
        check_loopback(same, same, [Stream("orders", "orders", StreamMode.FULL_REFRESH)])
    assert [e.field for e in raised.value.errors] == ["/streams/0/destination"]


# few names, so that collisions are common
table_names = st.sampled_from(["a", "b", "c"])
stream_lists = st.lists(
    st.builds(Stream, table_names, table_names, st.sampled_from(StreamMode), st.just("at")),
    min_size=1,
    max_size=5,
)


def expected_problems(streams: list[Stream], loops_back: bool) -> set[str]:
    """The model: the fields a pipeline's streams must be refused for."""
    problems = set()
    read = {s.name for s in streams}
    for index, stream in enumerate(streams):
        earlier = streams[:index]
        if stream.name in {s.name for s in earlier}:
            problems.add(f"/streams/{index}/name")
        if stream.destination in {s.destination for s in earlier}:
            problems.add(f"/streams/{index}/destination")
        if loops_back and stream.destination in read:
            problems.add(f"/streams/{index}/destination")
    return problems


@given(streams=stream_lists, loops_back=st.booleans())
def test_streams_are_refused_exactly_when_their_state_or_tables_would_collide(
    streams: list[Stream], loops_back: bool
) -> None:
    """Names unique, destinations unique, and none read back by the pipeline: else each pointer."""
    source = UUID(int=1)
    destination = source if loops_back else UUID(int=2)
    problems: set[str] = set()
    for check in (
        lambda: check_streams(streams),
        lambda: check_loopback(source, destination, streams),
    ):
        try:
            check()
        except InvalidInput as e:
            problems |= {error.field for error in e.errors}
    assert problems == expected_problems(streams, loops_back)


def test_no_streams_is_invalid() -> None:
    """A pipeline moves at least one stream."""
    with pytest.raises(InvalidInput, match="streams"):
        check_streams([])


@given(seconds=st.integers(min_value=60, max_value=10**7), after=moments)
def test_an_interval_is_due_that_many_seconds_later(seconds: int, after: datetime) -> None:
    """every_seconds: the next due time is exactly the interval after the last."""
    assert next_due(EverySeconds(seconds), after) == after + timedelta(seconds=seconds)


@given(seconds=st.integers(max_value=59))
def test_intervals_under_a_minute_are_refused(seconds: int) -> None:
    """The minimum interval is 60 seconds."""
    with pytest.raises(InvalidInput) as raised:
        check_schedule(EverySeconds(seconds))
    assert raised.value.errors[0].field == "/schedule/every_seconds"


@given(minute=st.integers(0, 59), hour=st.integers(0, 23), after=moments)
def test_a_daily_cron_is_due_within_a_day_at_its_time(
    minute: int, hour: int, after: datetime
) -> None:
    """'M H * * *' is next due after the given moment, within 24 h, at H:M."""
    due = next_due(Cron(f"{minute} {hour} * * *"), after)
    assert due is not None
    assert after < due <= after + timedelta(days=1)
    assert (due.hour, due.minute, due.second) == (hour, minute, 0)


cron_expressions = st.sampled_from(
    ["*/7 * * * *", "0 0 * * *", "15 3 * * 1", "0 12 29 2 *", "30 */5 1,15 * *", "59 23 31 12 *"]
)


@given(
    questions=st.lists(
        st.tuples(cron_expressions, moments, st.integers(0, 10**6)), min_size=1, max_size=30
    )
)
def test_cron_due_times_answer_as_cronsim_does_whatever_was_asked_before(
    questions: list[tuple[str, datetime, int]],
) -> None:
    """The due times given out match cronsim's own answer for that moment (computed apart,
    here), in any order of questions: moments earlier, later, equal to or just before an
    answer given before, and microseconds apart."""
    for expression, moment, microseconds in questions:
        for asked in (moment, moment + timedelta(microseconds=microseconds)):
            expected = next(CronSim(expression, asked.astimezone(UTC)), None)
            assert next_due(Cron(expression), asked) == expected
            if expected is not None:  # just before and exactly at the due time
                assert next_due(Cron(expression), expected - timedelta(microseconds=1)) == expected
                assert next_due(Cron(expression), expected) == next(
                    CronSim(expression, expected), None
                )


def test_cron_due_times_take_naive_moments_as_local_time_as_before() -> None:
    """A naive moment (local time) asked after an aware one: an answer, not a TypeError."""
    aware = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    naive = aware.astimezone().replace(tzinfo=None)
    assert next_due(Cron("0 * * * *"), aware) == next_due(Cron("0 * * * *"), naive)


@pytest.mark.parametrize(
    "expression", ["* * * *", "61 * * * *", "* * 32 * *", "every day", "* * * * * *"]
)
def test_malformed_cron_expressions_are_refused(expression: str) -> None:
    """Only valid 5-field expressions pass; the error points at /schedule/cron."""
    with pytest.raises(InvalidInput) as raised:
        check_schedule(Cron(expression))
    assert raised.value.errors[0].field == "/schedule/cron"


@pytest.mark.parametrize("destination", ["_thedata_state", "_thedata_load_x", "_THEDATA_state"])
def test_destinations_in_the_engines_own_namespace_are_refused(destination: str) -> None:
    """``_thedata_`` names belong to the engine (its state table, its staging tables)."""
    stream = Stream("orders", destination, StreamMode.FULL_REFRESH)
    with pytest.raises(InvalidInput) as refused:
        check_streams([stream])
    assert [e.field for e in refused.value.errors] == ["/streams/0/destination"]
