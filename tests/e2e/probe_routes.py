"""Routes registered by the tests only, to drive the app's edge behaviour through HTTP.

The foundation has no business endpoints yet; these stand in for them, with
a JSON body, query parameters and a handler that raises each kind of error.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.params import FromPath, JSONBody, Parameter

from thedata.application.errors import DependencyUnavailable
from thedata.domain.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied


class Window(msgspec.Struct, forbid_unknown_fields=True):
    """A nested object, to check pointers into nested fields."""

    start: int


class EchoBody(msgspec.Struct, forbid_unknown_fields=True):
    """A body with the constraints a real endpoint would have."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    count: Annotated[int, msgspec.Meta(ge=0)]
    tags: list[str] = []
    window: Window | None = None


@post("/echo", status_code=200)
async def echo(data: JSONBody[EchoBody]) -> EchoBody:
    """Return the validated body."""
    return data


@get("/items")
async def items(limit: Annotated[int, Parameter(ge=1, le=200)] = 50) -> dict[str, int]:
    """Echo a validated query parameter."""
    return {"limit": limit}


ERRORS: dict[str, Exception] = {
    "not_found": NotFound("no pipeline 42"),
    "conflict": Conflict("the name is taken"),
    "permission": PermissionDenied("viewers cannot run pipelines"),
    "invalid": InvalidInput("the schedule is invalid", [FieldError("/schedule", "too often")]),
    "unavailable": DependencyUnavailable("the secret store is down", retry_after=7),
    "bug": RuntimeError("secret=hunter2 in /srv/app.py line 3"),
}


@get("/raise/{kind:str}")
async def raise_error(kind: FromPath[str]) -> None:
    """Raise the error named ``kind``."""
    raise ERRORS[kind]


probe_router = Router(path="/probe", route_handlers=[echo, items, raise_error])
