"""A client span per statement, for connections of a pool that traces.

Named and described as OpenTelemetry's database conventions ask: ``SELECT runs``, with
``db.system.name``, ``db.operation.name``, ``db.collection.name`` and ``db.namespace``;
never a parameter value, never the statement's text (ours hold no literal, but a data
source's could).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from psycopg import AsyncCursor
from psycopg.rows import Row

_WORD_OR_PARENTHESIS = re.compile(r"[()]|[A-Za-z_]+")
# what a WITH's main statement can be, after its common table expressions
_MAIN_STATEMENTS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES"})
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE)


def statement_summary(query: object) -> tuple[str | None, str | None]:
    """The operation (``SELECT``) and first table a statement names, when it is plain text."""
    if not isinstance(query, str):
        return None, None
    return _summary(query)


# the service's statements are constants: each is read once, not at every execution
@functools.lru_cache(maxsize=512)
def _summary(query: str) -> tuple[str | None, str | None]:
    table = _TABLE.search(query)
    return _operation(query), table.group(1) if table else None


def _operation(query: str) -> str | None:
    """The statement's first word; for a WITH, that of the statement after its common table
    expressions (the first such word outside parentheses)."""
    tokens = (match.group() for match in _WORD_OR_PARENTHESIS.finditer(query))
    first = next(tokens, "(")
    if first in "()":
        return None
    if first.upper() != "WITH":
        return first.upper()
    depth = 0
    for word in tokens:
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and word.upper() in _MAIN_STATEMENTS:
            return word.upper()
    return "WITH"


def traced_cursor_class(tracer: Tracer, database: str) -> type[AsyncCursor[Any]]:
    """A cursor class whose statements each run in a client span of ``tracer``."""

    class TracedCursor(AsyncCursor[Row]):
        # psycopg's signature, overloads and all, passed through untouched
        async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            parent = trace.get_current_span().get_span_context()
            if parent.is_valid and not parent.trace_flags.sampled:
                # in a trace the sampler dropped: a span would be made only to be thrown away
                await super().execute(query, *args, **kwargs)
                return self
            operation, table = statement_summary(query)
            attributes = {"db.system.name": "postgresql", "db.namespace": database}
            if operation:
                attributes["db.operation.name"] = operation
            if table:
                attributes["db.collection.name"] = table
            name = " ".join(part for part in (operation, table) if part) or "postgresql"
            with tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
            ) as span:
                try:
                    await super().execute(query, *args, **kwargs)
                except Exception as e:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", type(e).__name__)
                    raise
            return self

    return TracedCursor
