"""JSON request bodies: JSON by their media type, well formed, and nested no deeper than any of
our schemas; anything else is the client's error, said as such (never a 500, never the
parser's own words)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException, SerializationException

from thedata.domain.errors import FieldError, InvalidInput

MAX_JSON_DEPTH = 32
"""Arrays and objects a body may open inside each other; our deepest schema needs 3."""

TOO_DEEP = f"the JSON body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether decoded JSON ``value`` nests more than ``limit`` arrays and objects in each other.

    Level by level, without recursion, so that the check itself cannot run out of stack.
    """
    containers = [value] if isinstance(value, list | dict) else []
    for _ in range(limit):  # after k rounds: the containers k levels down
        if not containers:
            return False
        containers = [
            c for node in containers for c in _children(node) if isinstance(c, list | dict)
        ]
    return bool(containers)


def _children(node: list[Any] | dict[str, Any]) -> Any:
    return node.values() if isinstance(node, dict) else node


UNSUPPORTED_MEDIA_TYPE = 415


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` type, any parameters aside; no header at all is
    taken as JSON (a client that names no type sends what the API reads)."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _malformed(error: SerializationException) -> InvalidInput:
    """The decoder's complaint, in our words: where it stopped, never its wording."""
    said = str(error)
    if "truncated" in said:
        message = "the JSON ends before its last value does"
    elif "(byte " in said:
        message = "not JSON: unexpected character at byte " + said.rsplit("(byte ", 1)[1].rstrip(
            ")"
        )
    else:
        message = "not JSON"
    return InvalidInput("the request body is not valid JSON", [FieldError("", message)])


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400.

    msgspec's decoder recurses once per level and raises ``RecursionError`` (not
    a ``DecodeError``, so Litestar let it through as a 500) near Python's
    recursion limit, where the stack left decides; below that, the explicit
    limit keeps deep values away from anything recursive downstream (logging,
    JSON columns).
    """

    async def json(self) -> Any:
        """The decoded body: ``HTTPException`` 415 if it is not JSON by its media type,
        ``InvalidInput`` if it is not well formed, ``ClientException`` if it nests too deep."""
        content_type = self.headers.get("content-type")
        if not is_json_media_type(content_type):
            raise HTTPException(
                status_code=UNSUPPORTED_MEDIA_TYPE,
                detail="the body must be JSON (Content-Type: application/json), not "
                + str(content_type)[:80],
            )
        try:
            value = await super().json()
        except RecursionError:
            raise ClientException(TOO_DEEP) from None
        except SerializationException as e:
            raise _malformed(e) from None
        body = await self.body()
        # a body with few brackets cannot nest deeply: most skip the walk
        brackets = body.count(b"[") + body.count(b"{")
        if brackets > MAX_JSON_DEPTH and nests_deeper_than(value, MAX_JSON_DEPTH):
            raise ClientException(TOO_DEEP)
        return value
