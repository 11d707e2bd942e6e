"""What every Postgres repository holds: the connection of its unit of work."""

from __future__ import annotations

from collections.abc import Callable

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Connection = AsyncConnection[TupleRow]
ConnectionSource = Callable[[], Connection]
"""Gives the active transaction's connection (the unit of work's, while it is entered)."""
