"""A library's repeated warnings (psycopg's pool during an outage: one per connection
attempt and per broken connection) come once per kind in a while, not once per event."""

from __future__ import annotations

import io
import json
import logging


def test_the_pools_repeated_warnings_are_written_once_in_a_while(log_lines: io.StringIO) -> None:
    pool_log = logging.getLogger("psycopg.pool")
    for _ in range(100):
        pool_log.warning("error connecting in %r: %s", "thedata", "connection refused")
        pool_log.warning("discarding closed connection: %s", "<connection [BAD]>")
    # another cause is news, even within the same minute
    pool_log.warning("error connecting in %r: %s", "thedata", "password authentication failed")
    pool_log.error("an error of the pool: %s", "always written")
    events = [json.loads(line)["event"] for line in log_lines.getvalue().splitlines()]
    assert events == [
        "error connecting in 'thedata': connection refused",
        "discarding closed connection: <connection [BAD]>",
        "error connecting in 'thedata': password authentication failed",
        "an error of the pool: always written",
    ]
