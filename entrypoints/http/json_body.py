"""JSON request bodies nested deeper than any of our schemas are the client's error, not a 500."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

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


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400.

    msgspec's decoder recurses once per level and raises ``RecursionError`` (not
    a ``DecodeError``, so Litestar let it through as a 500) near Python's
    recursion limit, where the stack left decides; below that, the explicit
    limit keeps deep values away from anything recursive downstream (logging,
    JSON columns).
    """

    async def json(self) -> Any:
        """The decoded body; ``ClientException`` if it nests too deep."""
        try:
            value = await super().json()
        except RecursionError:
            raise ClientException(TOO_DEEP) from None
        body = await self.body()
        # a body with few brackets cannot nest deeply: most skip the walk
        brackets = body.count(b"[") + body.count(b"{")
        if brackets > MAX_JSON_DEPTH and nests_deeper_than(value, MAX_JSON_DEPTH):
            raise ClientException(TOO_DEEP)
        return value
