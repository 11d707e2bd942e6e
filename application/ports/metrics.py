"""What the run machinery reports to be counted, as a port: Prometheus in the service,
nothing (or a recorder, in tests) for a library user who wants none."""

from __future__ import annotations

from typing import Protocol

from thedata.domain.runs import Run


class RunMetrics(Protocol):
    """Each step of a run's life, as the worker sees it."""

    def run_queued(self, trigger: str) -> None:
        """A run was queued (``manual``, ``schedule``...)."""
        ...

    def attempt_started(self, run: Run) -> None:
        """A worker claimed ``run`` and starts an attempt."""
        ...

    def attempt_ended(self, run: Run, seconds: float) -> None:
        """The attempt of ``run`` (as it was stored at its end) took ``seconds``."""
        ...

    def moved(self, source_kind: str, destination_kind: str, rows: int, size: int) -> None:
        """An attempt wrote ``rows`` more rows, ``size`` more bytes, from a source of
        ``source_kind`` to a destination of ``destination_kind`` (after each batch)."""
        ...

    def attempt_refused(self) -> None:
        """An attempt found its run taken over (its lease had expired) and stored nothing:
        a zombie's commit, refused."""
        ...

    def lease_expired(self, run: Run) -> None:
        """The reaper took back ``run`` from a worker that stopped renewing its lease: queued
        again, or failed with its attempts spent."""
        ...

    def backlog(self, queued: int, oldest_wait_seconds: float) -> None:
        """The queue now: runs queued, and how long the longest queued one has waited."""
        ...

    def run_ended_unattempted(self, run: Run) -> None:
        """``run`` ended without an attempt ending it (cancelled while queued)."""
        ...


class NoRunMetrics:
    """Counts nothing."""

    def run_queued(self, trigger: str) -> None:
        """Nothing."""

    def attempt_started(self, run: Run) -> None:
        """Nothing."""

    def attempt_ended(self, run: Run, seconds: float) -> None:
        """Nothing."""

    def moved(self, source_kind: str, destination_kind: str, rows: int, size: int) -> None:
        """Nothing."""

    def attempt_refused(self) -> None:
        """Nothing."""

    def lease_expired(self, run: Run) -> None:
        """Nothing."""

    def backlog(self, queued: int, oldest_wait_seconds: float) -> None:
        """Nothing."""

    def run_ended_unattempted(self, run: Run) -> None:
        """Nothing."""
