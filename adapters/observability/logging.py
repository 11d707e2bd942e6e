"""One logging pipeline for structlog and the standard library alike."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any, Literal, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor

from thedata.adapters.observability.redaction import log_retries_without_arguments, redact_secrets

LogFormat = Literal["json", "console"]

# Libraries whose loggers set up handlers of their own; their records go to ours instead.
_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "psycopg", "psycopg.pool")
# Chatty at info level (whole initdb transcripts); their warnings still come through.
_QUIETED_LOGGERS = ("pgserver",)


class _Sink:
    """Where the service's log lines go and what passes: set by ``configure_logging``, read
    at each line (loggers are cached on first use, so they must not hold either)."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.level = logging.INFO
        self.render: list[Processor] = []
        self.json = False  # lines rendered as JSON (else for a console)
        self.lock = threading.Lock()

    def write(self, line: str) -> None:
        """Write ``line``; never raise (a log line must not fail what it describes): a
        stream that cannot take it (a broken pipe, a full disk) loses the line."""
        with self.lock:  # one line at a time, whole, whichever thread writes it
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except Exception:  # noqa: S110 - as logging.Handler.handleError does by default
                pass


_SINK = _Sink()


class _LineLogger:
    """structlog's logger for the service: writes the rendered line to the sink. ``name``
    is what ``add_logger_name`` shows."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "thedata"

    def msg(self, line: str) -> None:
        _SINK.write(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _below_level(_logger: object, method: str, event: EventDict) -> EventDict:
    if _LEVELS.get(method, logging.INFO) < _SINK.level:
        raise structlog.DropEvent
    return event


def _rendered(logger: object, method: str, event: EventDict) -> Any:
    rendered: Any = event
    try:
        for processor in _SINK.render:
            rendered = processor(logger, method, rendered)
    except Exception as e:
        rendered = _unrenderable(e, event.get("event"), method)
    return rendered


def _unrenderable(error: Exception, event: object, method: str) -> str:
    """The line written instead of one that could not be rendered: what failed, not why."""
    what = f"a log line could not be rendered ({type(error).__name__}): {event!r}"
    return json.dumps({"event": what, "level": method})


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
    _SINK.stream, _SINK.level, _SINK.render = stream or sys.stderr, _level(level), renderer
    _SINK.json = log_format == "json"
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
    log_retries_without_arguments()


_ACCESS_LOGGER = "thedata.access"
_access = structlog.get_logger(_ACCESS_LOGGER)
_stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)


def log_request(**fields: Any) -> None:
    """The access line of one request, with what the context binds (its request id).

    The same line, redacted the same way, as ``structlog.get_logger("thedata.access")
    .info("request", **fields)`` writes; as JSON (production's format) it is built
    with the renderer's own steps but without structlog's chain around them, which cost
    a request to ``/health/live`` a fifth of its time. Other formats, and a host program
    that routes our logs to its own, take structlog's path.
    """
    if not _SINK.json:
        _access.info("request", **fields)
        return
    if _SINK.level > logging.INFO:
        return
    event: EventDict = structlog.contextvars.get_contextvars()
    event.update(fields)
    try:
        # what comes from the request and its context is redacted; what is added after it
        # (the event's name, level, logger and time) is ours and cannot hold a secret
        event = redact_secrets(None, "info", event)
        event.update(event="request", level="info", logger=_ACCESS_LOGGER)
        line = _json(_stamp(None, "info", event))
    except Exception as e:
        line = _unrenderable(e, "request", "info")
    _SINK.write(line)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


class _SinkHandler(logging.Handler):
    """The standard library's records, formatted, to the same sink as structlog's lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _SINK.write(self.format(record))
        except Exception:
            self.handleError(record)


def route_to_stdlib_logging() -> None:
    """Unless the host program configured structlog, hand our events to stdlib ``logging``.

    structlog's default prints to stdout; a library must not. This way a program
    that imports theData.io decides, with ordinary ``logging`` configuration,
    what it sees of our logs (by default: warnings and errors on stderr).
    """
    log_retries_without_arguments()
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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
