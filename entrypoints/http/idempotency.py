"""``Idempotency-Key`` on creating requests: the first response, replayed for every retry."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter

from thedata.application.idempotency import IdempotentRequest, Replayed
from thedata.application.ports import StoredResponse

T = TypeVar("T")
B = TypeVar("B", bound=msgspec.Struct)

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID, say). A retry with the same key and body "
        "returns the first response and creates nothing; the same key with another body "
        "is 409. Keys are kept 24 hours.",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"


def _canonical(body: bytes) -> bytes:
    # the same JSON written with other spacing or key order is the same request
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except msgspec.DecodeError:
        return body


class Creation(Generic[T, B]):
    """How one creating endpoint answers: the body for a result, stored and replayed as is.

    ``stored_body`` may leave out what must not be kept (an API key's secret);
    it defaults to ``to_body``. ``headers`` go with the first response (say, that a
    secret in it is never to be cached).
    """

    def __init__(
        self,
        to_body: Callable[[T], B],
        stored_body: Callable[[T], B] | None = None,
        status: int = 201,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._to_body = to_body
        self._stored_body = stored_body or to_body
        self._status = status
        self._headers = headers

    async def request(
        self, request: Request[Any, Any, Any], key: str | None
    ) -> IdempotentRequest[T] | None:
        """The idempotent request, when the client sent a key."""
        if key is None:
            return None
        fingerprint = hashlib.sha256(
            b"\0".join(
                [
                    request.method.encode(),
                    request.url.path.encode(),
                    _canonical(await request.body()),
                ]
            )
        ).hexdigest()
        return IdempotentRequest(key, fingerprint, self._render)

    def _render(self, result: T) -> StoredResponse:
        return StoredResponse(self._status, msgspec.json.encode(self._stored_body(result)))

    def respond(self, result: T) -> Response[B]:
        """The response to the first request (replays come through ``replay_response``)."""
        return Response(self._to_body(result), status_code=self._status, headers=self._headers)


def replay_response(_request: Request[Any, Any, Any], replayed: Replayed) -> Response[bytes]:
    """The stored response of the first identical request, as it was sent, marked as a replay."""
    return Response(
        replayed.response.body,
        status_code=replayed.response.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )
