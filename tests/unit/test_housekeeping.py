"""Housekeeping on memory adapters: what expired goes, in batches; nothing live is touched."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.identity import PASSWORD, Identity
from tests.unit.test_run_use_cases import setup
from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.use_cases import Housekeeping, Purged
from thedata.domain.pagination import PageRequest
from thedata.domain.tokens import InvalidCredentials, TooManyLoginAttempts

RETENTION = timedelta(days=30)


async def test_finished_runs_past_retention_and_expired_keys_go_live_ones_stay() -> None:
    """A finished run stays through its retention and goes after it; a queued one stays."""
    catalog, runs, owner, org, pipeline = await setup()
    window = catalog.identity.policy.login_window
    sweep = Housekeeping(catalog.uow, runs.clock, RETENTION, window, batch=10).sweep
    first = await runs.trigger(owner, org, pipeline)
    claimed = await runs.queue.claim("w")
    assert claimed is not None
    assert await runs.queue.succeed(claimed) is not None
    assert await sweep() == Purged(0, 0, 0)  # finished just now: kept
    runs.clock.advance(timedelta(days=31))
    second = await runs.trigger(owner, org, pipeline)  # queued, never finished: kept
    assert await sweep() == Purged(0, 1, 0)
    page = await runs.list(owner, org, PageRequest())
    assert [r.id for r in page.items] == [second.id]
    assert first.id not in [r.id for r in page.items]


async def test_password_counters_go_once_their_window_is_over_and_not_before() -> None:
    """Counters go in batches once the sign-in window that started them has ended; a
    closed account stays closed until then, and a live count is never purged."""
    store = InMemoryStore()
    identity = Identity(
        lambda: InMemoryUnitOfWork(store), policy=IdentityPolicy(login_attempt_limit=3)
    )
    window = identity.policy.login_window
    sweep = Housekeeping(identity.uow, identity.clock, RETENTION, window, batch=2).sweep

    async def guess_until_refused(email: str, address: str) -> TooManyLoginAttempts:
        await identity.register(email, PASSWORD, email.split("@")[0])
        for _ in range(3):
            with pytest.raises(InvalidCredentials):
                await identity.sign_in(email, "wrong password!", address)
        with pytest.raises(TooManyLoginAttempts) as refused:
            await identity.sign_in(email, PASSWORD, address)
        return refused.value

    await guess_until_refused("ada@x.io", "10.0.0.1")
    identity.clock.advance(window - timedelta(minutes=1))
    await guess_until_refused("bob@x.io", "10.0.0.2")
    # each attempt counts on three rows: the pair, the account, the address
    assert len(store.tables["login_attempts"]) == 6
    assert await sweep() == Purged(0, 0, 0)
    with pytest.raises(TooManyLoginAttempts):  # a sweep reopens nothing early
        await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")
    identity.clock.advance(timedelta(minutes=1))  # Ada's window ends now, Bob's in 14 minutes
    assert [await sweep() for _ in range(3)] == [Purged(0, 0, 2), Purged(0, 0, 1), Purged(0, 0, 0)]
    assert len(store.tables["login_attempts"]) == 3
    with pytest.raises(TooManyLoginAttempts) as bob:
        await identity.sign_in("bob@x.io", PASSWORD, "10.0.0.2")
    assert bob.value.retry_after == (window - timedelta(minutes=1)).total_seconds()
    assert await identity.sign_in("ada@x.io", PASSWORD, "10.0.0.1")  # as if never guessed at
