"""The HTTP/1.1 protocol ``thedata serve`` runs: uvicorn's (httptools), answering a request
it cannot parse as every other answer is given, a problem detail with a request id."""

from __future__ import annotations

import msgspec
import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from thedata.entrypoints.http.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from thedata.entrypoints.http.request_ids import new_request_id

log = structlog.get_logger(__name__)


def unparsable_request_answer(request_id: str) -> bytes:
    """The whole 400 answer to bytes that are not an HTTP request: no route, no path, so the
    request id names the occurrence (``instance``)."""
    body = msgspec.json.encode(
        {
            "type": PROBLEM_TYPE_BASE + "malformed-request",
            "title": "Bad Request",
            "status": 400,
            "detail": "the request is not valid HTTP/1.1",
            "instance": f"urn:uuid:{request_id}",
            "request_id": request_id,
        }
    )
    head = (
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return STATUS_LINE[400] + head.encode("ascii") + body


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a problem detail for what it cannot parse (it
    answers ``text/plain`` and no request id, the only answer of the server without them)."""

    def send_400_response(self, msg: str) -> None:
        request_id = new_request_id()
        # the id the client is told to quote, in the log it is quoted against
        log.info("request is not HTTP/1.1", request_id=request_id, reason=msg)
        self.transport.write(unparsable_request_answer(request_id))
        self.transport.close()
