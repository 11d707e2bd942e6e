"""One logging pipeline for structlog and the standard library alike."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import Context, copy_context
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor

from thedata.adapters.observability.redaction import redact_secrets, redact_text
from thedata.adapters.observability.request_context import add_request_id, request_id_in
from thedata.adapters.observability.retries import instrument_retries
from thedata.adapters.observability.sink import SINK, unrenderable
from thedata.adapters.observability.tracing import TRACED, add_trace_ids

LogFormat = Literal["json", "console"]

# Libraries whose loggers set up handlers of their own; their records go to ours instead.
_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "psycopg", "psycopg.pool")
# Chatty at info level (whole initdb transcripts); their warnings still come through.
_QUIETED_LOGGERS = ("pgserver",)
# Libraries that warn once per event where an outage makes thousands of events (psycopg's
# pool: each connection attempt, each broken connection): each kind of warning once in this
# many seconds. The service logs the outage itself, once as it starts and once as it ends.
_RATE_LIMITED_LOGGERS = ("psycopg.pool",)
_WARNING_EVERY = 30.0


class _LineLogger:
    """structlog's logger for the service: writes the rendered line to the sink. ``name``
    is what ``add_logger_name`` shows."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "thedata"

    def msg(self, line: str) -> None:
        SINK.write(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _below_level(_logger: object, method: str, event: EventDict) -> EventDict:
    if _LEVELS.get(method, logging.INFO) < SINK.level:
        raise structlog.DropEvent
    return event


def _rendered(logger: object, method: str, event: EventDict) -> Any:
    rendered: Any = event
    try:
        for processor in SINK.render:
            rendered = processor(logger, method, rendered)
    except Exception as e:
        rendered = unrenderable(e, event.get("event"), method)
    return rendered


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_JSON = msgspec.json.Encoder(enc_hook=repr)  # what it cannot encode is shown as its repr


def _json(event: EventDict, **_options: Any) -> str:
    try:
        return _JSON.encode(event).decode()
    except (TypeError, ValueError, UnicodeEncodeError):
        # what msgspec refuses (a lone surrogate from an undecodable name), the standard
        # library escapes
        return json.dumps(event, default=repr)


def configure_logging(*, log_format: LogFormat, level: str, stream: TextIO | None = None) -> None:
    """Send every log line, structlog's and the standard library's, through one renderer.

    Each line carries a UTC timestamp, the level, the logger name and whatever is
    bound in the context (the request id for lines written while serving a
    request). Uvicorn's own access log is silenced: the HTTP edge writes one
    richer access line per request. The service's own (structlog) lines are
    rendered and written by structlog directly (JSON by msgspec): the standard
    library's records, handlers and formatter cost an access line more than the
    rest of a request to ``/health/live`` did. Libraries' lines (uvicorn,
    psycopg) come through ``logging``, rendered the same way.
    """
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    # Tracebacks never show local variables: they may hold credentials. Redaction runs
    # last, after exceptions are rendered, so their messages are masked too.
    renderer: list[Processor] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact_secrets,
            structlog.processors.JSONRenderer(serializer=_json),
        ]
        if log_format == "json"
        else [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
        ]
    )
    SINK.replace_stream(stream or sys.stderr)
    SINK.level, SINK.render = _level(level), renderer
    SINK.json = log_format == "json"
    structlog.configure(
        processors=[_below_level, *shared, _rendered],
        logger_factory=_LineLogger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = _SinkHandler()
    handler.setFormatter(formatter)
    # on the handler too: libraries that set their own logger levels (psycopg) obey it as well
    handler.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers = []
        routed.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for name in _QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _RATE_LIMITED_LOGGERS:
        limited = logging.getLogger(name)
        limited.filters = [f for f in limited.filters if not isinstance(f, _OncePerKind)]
        limited.addFilter(_OncePerKind(_WARNING_EVERY))
    instrument_retries()


class _OncePerKind(logging.Filter):
    """Lets a warning (or less) through once per ``seconds`` for each message template and
    cause (the first line of its last argument: a refusal and a wrong password are two);
    errors always."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self._seconds = seconds
        self._last: dict[object, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        cause = str(args[-1]).split("\n", 1)[0] if args else ""
        now, key = time.monotonic(), (record.msg, cause)
        last = self._last.get(key)
        if last is not None and now - last < self._seconds:
            return False
        # a dict write is atomic under the GIL; two threads racing both write a line: harmless
        self._last[key] = now
        return True


_ACCESS_LOGGER = "thedata.access"
_access = structlog.get_logger(_ACCESS_LOGGER)


def log_request(
    *, method: str, route: str | None, path: str, status: int, duration_ms: float
) -> None:
    """The access line of one request, with what the context binds (its request id).

    The same line, redacted the same way, as ``structlog.get_logger("thedata.access")
    .info("request", ...)`` writes; as JSON (production's format) it is built here
    without structlog's chain, which cost a request to ``/health/live`` a fifth of its
    time, and only what can hold client text is searched for secrets: the method, the
    path and what the context binds. The route is a template of ours, the status and
    duration numbers. Other formats, and a host program that routes our logs to its
    own, take structlog's path.
    """
    if not SINK.json:
        _access.info(
            "request", method=method, route=route, path=path, status=status, duration_ms=duration_ms
        )
        return
    if SINK.level > logging.INFO:
        return
    # the context as it is now, read when the line is rendered (copying it costs nothing)
    record = (copy_context(), method, route, path, status, duration_ms, time.time_ns())
    SINK.write_soon(_access_line, record)


_AccessRecord = tuple[Context, str, str | None, str, int, float, int]


def _access_line(record: _AccessRecord) -> str:
    context, method, route, path, status, duration_ms, at = record
    try:
        bound = context.run(structlog.contextvars.get_contextvars)
        request_id = request_id_in(context)
        if request_id is not None:
            bound.setdefault("request_id", request_id)
        event: EventDict = redact_secrets(None, "info", bound) if bound else {}
        if TRACED.requests:
            context.run(add_trace_ids, None, "info", event)
        event.update(
            method=redact_text(method),
            route=route,
            path=redact_text(path),
            status=status,
            duration_ms=duration_ms,
            event="request",
            level="info",
            logger=_ACCESS_LOGGER,
            timestamp=_utc_time(at),
        )
        return _json(event)
    except Exception as e:
        return unrenderable(e, "request", "info")


_second_formatted: tuple[int, str] = (-1, "")


def _utc_time(nanoseconds: int) -> str:
    """``nanoseconds`` since the epoch in ISO 8601 UTC to the microsecond, as structlog's
    ``TimeStamper(fmt="iso", utc=True)`` writes times (but with all six digits of the
    fraction, where it drops ``.000000``); the date and second formatted once a
    second, not for every line (they were a sixth of an access line's cost)."""
    global _second_formatted
    second, fraction = divmod(nanoseconds, 1_000_000_000)
    cached_second, prefix = _second_formatted
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _second_formatted = (second, prefix)
    return f"{prefix}{fraction // 1000:06d}Z"


def flush_logs() -> None:
    """Write now the access lines waiting for the event loop's next turn (a host program
    that reads our log stream itself, or ends without returning to its loop)."""
    SINK.flush()


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


class _SinkHandler(logging.Handler):
    """The standard library's records, formatted, to the same sink as structlog's lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            SINK.write(self.format(record))
        except Exception:
            self.handleError(record)


def route_to_stdlib_logging() -> None:
    """Unless the host program configured structlog, hand our events to stdlib ``logging``.

    structlog's default prints to stdout; a library must not. This way a program
    that imports theData.io decides, with ordinary ``logging`` configuration,
    what it sees of our logs (by default: warnings and errors on stderr). A host
    that configured structlog itself and serves our HTTP app adds
    ``add_request_id`` (and ``add_trace_ids``) to its processors to see the request id
    (and the trace) on our lines.
    """
    instrument_retries()
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_request_id,
            add_trace_ids,
            structlog.stdlib.filter_by_level,
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _drop_color_message(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    # uvicorn repeats each message with terminal colour codes in this extra field
    event.pop("color_message", None)
    return event
