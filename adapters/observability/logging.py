"""One logging pipeline for structlog and the standard library alike."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import Processor

from thedata.adapters.observability.redaction import log_retries_without_arguments, redact_secrets

LogFormat = Literal["json", "console"]

# Libraries whose loggers set up handlers of their own; their records go to ours instead.
_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "psycopg", "psycopg.pool")
# Chatty at info level (whole initdb transcripts); their warnings still come through.
_QUIETED_LOGGERS = ("pgserver",)


def configure_logging(*, log_format: LogFormat, level: str, stream: TextIO | None = None) -> None:
    """Send every log line, structlog's and the standard library's, through one renderer.

    Each line carries a UTC timestamp, the level, the logger name and whatever is
    bound in the context (the request id for lines written while serving a
    request). Uvicorn's own access log is silenced: the HTTP edge writes one
    richer access line per request.
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
            structlog.processors.JSONRenderer(),
        ]
        if log_format == "json"
        else [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
        ]
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
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
