"""JSON request bodies: JSON by their media type, well formed, and nested no deeper than any of
our schemas; anything else is the client's error, said as such (never a 500, never the
parser's own words)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, HTTPException, SerializationException

from thedata.domain.errors import FieldError, InvalidInput
from thedata.entrypoints.http.problems import invalid_body

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


NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"


def _refuse_nul(value: Any) -> None:
    """``InvalidInput`` naming the first string that holds a NUL character (U+0000), which
    no text column of PostgreSQL can store: the document says so of every string."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        pointer, node = pending.pop()
        if isinstance(node, str) and NUL in node:
            message = "must not contain a NUL character (U+0000)"
            raise InvalidInput("the request is invalid", [FieldError(pointer, message)])
        if isinstance(node, dict):
            for key, item in node.items():
                escaped = key.replace("~", "~0").replace("/", "~1")  # RFC 6901
                pending.append((f"{pointer}/{escaped}", item))
                pending.append((pointer, key))  # a key is text too
        elif isinstance(node, list):
            pending.extend((f"{pointer}/{index}", item) for index, item in enumerate(node))


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with each float that has no fraction (``60.0``) as an int, as JSON Schema
    counts it; msgspec's strict mode refuses a float where an int is due."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


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
        if _ESCAPED_NUL in body:  # JSON spells U+0000 in a string only this way
            _refuse_nul(value)
        self._check_types(value)
        return value

    def _check_types(self, value: Any) -> None:
        """``InvalidInput`` if ``value`` has a JSON type its schema does not allow.

        Litestar converts a body in msgspec's lax mode (made for query strings), which
        takes ``0`` for ``false`` and ``"60"`` for ``60``; the document says ``boolean`` and
        ``integer``, and so does this strict conversion, which Litestar's then repeats.
        As in JSON Schema, ``60.0`` is an integer.
        """
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is None:
            return
        try:
            msgspec.convert(value, data.annotation)
        except msgspec.ValidationError:
            try:  # rarely reached: a body with a mistake, or with 60.0 for an integer
                msgspec.convert(_integral_floats_as_ints(value), data.annotation)
            except msgspec.ValidationError as e:
                raise invalid_body(e) from None


_WRITES = frozenset({"POST", "PUT", "PATCH"})


async def refuse_unread_body(connection: Any, handler: Any) -> None:
    """A guard for every route: an action that takes no body (trigger a run, cancel it,
    check a source) refuses a body with fields, naming them, as any unknown field is;
    nothing or ``{}`` passes. Without it a client's ``{"status": "succeeded"}`` would be
    silently ignored. Sign-in routes are left alone (a logout with a body still logs out),
    and so is a call with no credentials at all: its answer is the 401."""
    if connection.method not in _WRITES or "data" in handler.parsed_fn_signature.parameters:
        return
    if connection.url.path.startswith("/v1/auth/") or "authorization" not in connection.headers:
        return
    body = await connection.body()
    if not body.strip():
        return
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        value = None
    if value == {}:
        return
    if isinstance(value, dict):
        errors = [FieldError(f"/{key}", "this operation takes no body") for key in value]
    else:
        errors = [FieldError("", "this operation takes no body")]
    raise InvalidInput("the request is invalid", errors)
