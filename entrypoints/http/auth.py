"""Bearer authentication: the caller resolved to a ``Principal`` once per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from thedata.application.use_cases import Authenticate
from thedata.domain.credentials import ACCESS_TOKEN_PREFIX, API_KEY_PREFIX
from thedata.domain.errors import FieldError, InvalidInput, Unauthenticated
from thedata.domain.principal import Principal
from thedata.entrypoints.container.edge import handing_on
from thedata.entrypoints.http.dependencies import Injected, ServiceContainer, built

T = TypeVar("T")

SECURITY_SCHEME = "bearerAuth"
SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
"""What a route that needs a caller declares in OpenAPI."""

# Names under which clients commonly put a token into a URL, where proxies,
# browser histories and access logs would keep it.
_CREDENTIAL_PARAMETERS = frozenset({"access_token", "token", "api_key", "apikey", "key"})


def refuse_credentials_in_query(request: Request[Any, Any, Any]) -> None:
    """Credentials belong in the Authorization header; a URL leaks them into logs and caches."""
    for name, value in request.query_params.items():
        looks_like_one = value.startswith((ACCESS_TOKEN_PREFIX, API_KEY_PREFIX))
        if name.lower() in _CREDENTIAL_PARAMETERS or looks_like_one:
            message = "credentials are accepted only in the Authorization header"
            raise InvalidInput(message, [FieldError(name, message)])


def bearer_credential(request: Request[Any, Any, Any]) -> str:
    """The token of ``Authorization: Bearer <token>``; ``Unauthenticated`` if there is none."""
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("send an access token or API key as 'Authorization: Bearer <token>'")
    return credential.strip()


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """The authenticated caller of this request."""
    refuse_credentials_in_query(request)
    credential = bearer_credential(request)
    authenticate: Authenticate = await built(state, _authenticate)
    with handing_on():  # the use case runs next: it takes the connection the caller was read on
        return await authenticate(credential)


def _authenticate(container: ServiceContainer) -> Callable[[], Authenticate]:
    return container.authenticate


PRINCIPAL = {"principal": Provide(provide_principal)}
"""The dependency every authenticated controller declares."""


def caller_use_case(select: Callable[[ServiceContainer], Callable[[], T]]) -> Provide:
    """``use_case`` for routes with a caller: handed over once the caller is known.

    Litestar resolves the dependencies of one level concurrently, in a task group that
    cost a request more than both dependencies did; depending on the principal puts the
    use case one level after it (and no use case is handed to an unknown caller).
    """

    async def provide(state: State, principal: Injected[Principal]) -> T:
        return await built(state, select)

    return Provide(provide)
