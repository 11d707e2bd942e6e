"""Statements slower than a threshold, reported as they end: a log line and a histogram
an operator can alert on, named like the statement's span (``SELECT runs``), never with
its text or parameters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from psycopg import AsyncCursor

from thedata.adapters.postgres.traced_cursor import statement_summary

SlowStatementReport = Callable[[str | None, str | None, float], None]
"""Told (operation, first table, seconds) of each statement at or over the threshold."""


def timed_cursor_class(
    base: type[AsyncCursor[Any]], threshold: float, report: SlowStatementReport
) -> type[AsyncCursor[Any]]:
    """``base`` whose statements taking ``threshold`` seconds or more are reported (failed
    ones too: a statement cancelled by the statement timeout is the slowest of all)."""

    class TimedCursor(base):  # type: ignore[valid-type,misc] # a class chosen at run time
        # psycopg's signature, overloads and all, passed through untouched
        async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await super().execute(query, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                if elapsed >= threshold:
                    operation, table = statement_summary(query)
                    report(operation, table, elapsed)

    return TimedCursor
