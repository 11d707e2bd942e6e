"""When a pipeline runs by itself: never, every N seconds, or on a cron expression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import frozen
from cronsim import CronSim, CronSimError

from thedata.domain.errors import FieldError, InvalidInput

MIN_INTERVAL_SECONDS = 60


@frozen
class EverySeconds:
    """Run every ``seconds`` (at least a minute) after the previous due time."""

    seconds: int


@frozen
class Cron:
    """Run at the times a standard 5-field cron expression names (UTC)."""

    expression: str


Schedule = EverySeconds | Cron


def check_schedule(schedule: Schedule | None, *, field: str = "/schedule") -> Schedule | None:
    """The schedule if it is valid; ``InvalidInput`` naming the field otherwise."""
    if isinstance(schedule, EverySeconds) and schedule.seconds < MIN_INTERVAL_SECONDS:
        message = f"must be at least {MIN_INTERVAL_SECONDS}"
        raise InvalidInput(
            "the schedule is invalid", [FieldError(field + "/every_seconds", message)]
        )
    if isinstance(schedule, Cron):
        if len(schedule.expression.split()) != 5:
            message = "must have 5 fields: minute hour day-of-month month day-of-week"
            raise InvalidInput("the schedule is invalid", [FieldError(field + "/cron", message)])
        try:
            CronSim(schedule.expression, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as e:
            raise InvalidInput(
                "the schedule is invalid",
                [FieldError(field + "/cron", f"not a cron expression: {e}")],
            ) from None
    return schedule


def next_due(schedule: Schedule, after: datetime) -> datetime | None:
    """The first due time strictly after ``after`` (UTC); ``None`` if the cron never fires again."""
    if isinstance(schedule, EverySeconds):
        return after + timedelta(seconds=schedule.seconds)
    return _CRON_DUE.after(schedule.expression, after)


class _CronDueTimes:
    """Each expression's latest answer, reused while it still holds.

    If ``due`` is the first time after ``since``, it is also the first after any
    moment from ``since`` up to (not including) ``due``: nothing fires between.
    Listing pipelines asks about the same few expressions at the same moment over
    and over, and parsing one with cronsim cost more than the rest of its row.
    """

    MAX_EXPRESSIONS = 1024  # past this many, start over: hostile expressions cannot grow it

    def __init__(self) -> None:
        self._answers: dict[str, tuple[datetime, datetime | None]] = {}

    def after(self, expression: str, moment: datetime) -> datetime | None:
        moment = moment.astimezone(UTC)  # a naive moment is local time, as astimezone reads it
        answer = self._answers.get(expression)
        if answer is not None:
            since, due = answer
            if since <= moment and (due is None or moment < due):
                return due
        due = self._compute(expression, moment)
        if len(self._answers) >= self.MAX_EXPRESSIONS:
            self._answers.clear()
        self._answers[expression] = (moment, due)
        return due

    @staticmethod
    def _compute(expression: str, moment: datetime) -> datetime | None:
        try:
            return next(CronSim(expression, moment))
        except StopIteration:
            return None


_CRON_DUE = _CronDueTimes()
