"""A run's body names its status, trigger and attempts' outcomes as API.md spells them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

from thedata.domain.runs import AttemptOutcome, AttemptRecord, Run, RunStatus, RunTrigger
from thedata.entrypoints.http.schemas.runs import OutcomeName, StatusName, TriggerName, run_body


def test_every_member_has_its_name_in_the_documented_schema() -> None:
    """The body's literal types list exactly the domain's members: a member added to the
    domain and not to the schema (or the reverse) fails here, not in a client."""
    assert set(get_args(StatusName)) == {s.value for s in RunStatus}
    assert set(get_args(TriggerName)) == {t.value for t in RunTrigger}
    assert set(get_args(OutcomeName)) == {o.value for o in AttemptOutcome}


def test_a_body_names_members_and_gives_times_in_utc() -> None:
    """Whatever zone a time was read in, the body gives the same moment in UTC."""
    plus_two = timezone(timedelta(hours=2))
    queued = datetime(2026, 11, 30, 14, 0, tzinfo=plus_two)
    ended = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    run = Run(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        pipeline_id=uuid.uuid4(),
        trigger=RunTrigger.SCHEDULE,
        queued_at=queued,
        max_attempts=3,
        status=RunStatus.FAILED,
        attempts=(
            AttemptRecord(
                number=1,
                worker_id="w",
                started_at=None,
                ended_at=ended,
                outcome=AttemptOutcome.LEASE_EXPIRED,
            ),
        ),
    )
    body = run_body(run)
    assert (body.status, body.trigger) == ("failed", "schedule")
    assert body.attempts[0].outcome == "lease_expired"
    assert body.queued_at == queued
    assert body.queued_at.tzinfo is UTC
    assert body.queued_at.hour == 12
    assert body.attempts[0].ended_at is ended
