"""Every error answer of the API, as an RFC 9457 problem detail, decided in one table."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap

from thedata.adapters.field_errors import field_error, location_pointer
from thedata.application.errors import DependencyUnavailable
from thedata.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from thedata.entrypoints.container.edge import count_refusal
from thedata.entrypoints.http.request_context import request_id_of

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://thedata.io/problems/"

log = structlog.get_logger(__name__)

# Each base error of the domain and application, and the status it is answered with.
STATUS_OF: dict[type[DomainError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    PermissionDenied: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    DependencyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}

# RFC 6750: a 401 names the scheme the client should authenticate with.
WWW_AUTHENTICATE = 'Bearer realm="thedata"'


class FieldProblem(msgspec.Struct, frozen=True):
    """One invalid input: a JSON pointer into the body, or a parameter's name."""

    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """RFC 9457 problem details, with the request id and, for invalid input, each field."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[FieldProblem] | None = None


def problem_of(
    status: HTTPStatus,
    detail: str,
    instance: str,
    request_id: str,
    *,
    code: str | None = None,
    errors: list[FieldProblem] | None = None,
) -> Problem:
    """The problem detail for ``status``: its type ours when ``code`` names one (its
    underscores as hyphens), else ``about:blank``; its title the status's phrase."""
    return Problem(
        type=PROBLEM_TYPE_BASE + code.replace("_", "-") if code else "about:blank",
        title=status.phrase,
        status=status.value,
        detail=detail,
        instance=instance,
        request_id=request_id,
        errors=errors,
    )


def problem_response(
    request: Request[Any, Any, Any],
    status: HTTPStatus,
    detail: str,
    *,
    code: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    """Build the problem answer; ``code`` names a problem type of ours, else ``about:blank``."""
    problem = problem_of(
        status, detail, request.url.path, request_id_of(request.scope), code=code, errors=errors
    )
    return Response(
        problem, status_code=status.value, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def problem_responses(*statuses: HTTPStatus) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route may answer with, beyond Litestar's own 400."""
    return {
        status.value: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_WHEN.get(status, status.phrase),
            generate_examples=False,
        )
        for status in statuses
    }


_WHEN: dict[HTTPStatus, str] = {
    HTTPStatus.BAD_REQUEST: "Invalid input; `errors` names each field (JSON pointer or parameter)",
    HTTPStatus.UNAUTHORIZED: "Missing, malformed, expired or revoked credentials",
    HTTPStatus.FORBIDDEN: "The caller's role does not allow this",
    HTTPStatus.NOT_FOUND: "No such resource, or one of an organization the caller is not in",
    HTTPStatus.CONFLICT: "Conflicts with the current state (duplicate, last owner, reused key)",
    HTTPStatus.REQUEST_TIMEOUT: "The body did not arrive in time (it stalled or trickled)",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "The body is larger than this server accepts",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "The body is not JSON (Content-Type: application/json)",
    HTTPStatus.TOO_MANY_REQUESTS: "Too many attempts; see Retry-After",
    HTTPStatus.SERVICE_UNAVAILABLE: "A dependency is unavailable; see Retry-After",
}


def _status_of(error: DomainError) -> HTTPStatus:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def handle_domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Problem]:
    """Answer an error of the domain or application with the status its base class maps to."""
    status = _status_of(error)
    if status is HTTPStatus.INTERNAL_SERVER_ERROR:
        return handle_unexpected(request, error)
    headers: dict[str, str] = {}
    errors = None
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        # a security event an operator may want to follow; never the credential itself
        log.info("authentication refused", problem=error.code)
        count_refusal(error.code, rate_limited=False)
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
        log.warning("rate limited", problem=error.code, retry_after=error.retry_after)
        count_refusal(error.code, rate_limited=True)
    if isinstance(error, DependencyUnavailable):
        headers["Retry-After"] = str(error.retry_after)
        log.warning("dependency unavailable", error=error.code, detail=str(error))
    if isinstance(error, InvalidInput):
        errors = [FieldProblem(field=e.field, message=e.message) for e in error.errors]
    return problem_response(
        request, status, str(error), code=error.code, errors=errors, headers=headers
    )


def handle_validation_error(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[Problem]:
    """Answer Litestar's own validation failures (body, query, path, headers) as invalid input."""
    errors = [_field_problem(item) for item in error.extra or [] if isinstance(item, dict)]
    detail = "the request is invalid" if errors else (error.detail or "the request is invalid")
    return problem_response(
        request, HTTPStatus.BAD_REQUEST, detail, code="invalid_input", errors=errors or None
    )


def _field_problem(item: dict[str, Any]) -> FieldProblem:
    key = str(item.get("key") or "")
    message = str(item.get("message") or "invalid")
    if item.get("source") != "body":
        return FieldProblem(field=key, message=message)  # parameters keep their names
    return FieldProblem(field=body_pointer(key, message), message=message)


def body_pointer(key: str, message: str) -> str:
    """The RFC 6901 JSON pointer of a body validation error (``""`` is the whole body).

    Litestar passes msgspec's location without its ``$`` (``config.host``, ``data``
    for the whole body) and msgspec's message; ``location_pointer`` reads both.
    """
    return location_pointer("" if key == "data" else key, message)


def invalid_body(error: msgspec.ValidationError) -> InvalidInput:
    """A body msgspec refused, as invalid input naming the field by its JSON pointer."""
    return InvalidInput("the request is invalid", [field_error(error)])


CLIENT_CLOSED_REQUEST = 499
"""What a request whose client hung up before sending its body is recorded as (nginx's
code): the client's doing, so a 4xx in the access line and the metrics, not a 500 of ours
(a 500 would spend the API's error budget, and anyone could spend it)."""


def handle_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    """Answer routing and protocol errors (404, 405, 413, malformed JSON, ...) as problems."""
    if isinstance(error, InternalServerException) and error.detail == _DISCONNECTED:
        log.info("the client hung up before sending its whole request")
        return Response(None, status_code=CLIENT_CLOSED_REQUEST)  # nobody reads it
    status = HTTPStatus(error.status_code)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return handle_unexpected(request, error)
    detail = error.detail if error.detail and error.detail != status.phrase else _DETAIL[status]
    return problem_response(
        request, status, detail, code=_CODE.get(status), headers=dict(error.headers or {})
    )


# problem types of ours for the protocol errors a client can act on
_CODE: dict[HTTPStatus, str] = {
    HTTPStatus.REQUEST_TIMEOUT: "body_timeout",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "body_too_large",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
}

# Litestar's words for it: it raises no type of its own
_DISCONNECTED = "client disconnected prematurely"

_DETAIL: dict[HTTPStatus, str] = {
    HTTPStatus.NOT_FOUND: "no resource at this path",
    HTTPStatus.METHOD_NOT_ALLOWED: "this path does not support that method",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "the request body is larger than this server accepts",
}
_DETAIL.update({s: s.description or s.phrase for s in HTTPStatus if s not in _DETAIL})


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    """Log the bug with its traceback; tell the client only that it happened and its request id."""
    log.error("unhandled error", exc_info=error)
    return problem_response(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "an unexpected error occurred; quote the request id when reporting it",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}


RESOURCE_PROBLEMS = problem_responses(
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.SERVICE_UNAVAILABLE,
)
"""What every authenticated resource route may answer besides its success."""


BODY_PROBLEMS = problem_responses(
    HTTPStatus.REQUEST_TIMEOUT,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
)
"""What a route that reads a JSON body may answer besides its own problems."""
