"""``/v1/auth``: sign-up, sign-in, sign-out."""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody

from thedata.application.use_cases import IssueAccessToken, RegisterUser, RevokeAccessToken
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY
from thedata.entrypoints.http.dependencies import Injected, container_of, use_case
from thedata.entrypoints.http.problems import problem_responses
from thedata.entrypoints.http.schemas.auth import (
    RegisterRequest,
    RegistrationBody,
    TokenBody,
    TokenRequest,
    registration_body,
    token_body,
)

_NO_STORE = {"Cache-Control": "no-store"}  # RFC 6749 §5.1: token responses are never cached

PROBLEMS = problem_responses(
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.CONFLICT,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.SERVICE_UNAVAILABLE,
)

log = structlog.get_logger("thedata.http.auth")


def client_address(request: Request[Any, Any, Any], state: State) -> str:
    """The client's address for sign-in limits: the last address the trusted proxy's header
    holds, over all its lines (a proxy that adds a line of its own puts it after the
    client's), else the peer."""
    header = container_of(state).settings().client_address_header
    if header is not None:
        forwarded = ",".join(request.headers.getall(header, [])).split(",")[-1].strip()
        if forwarded:
            return forwarded
    elif _FORWARDED_HEADER in request.headers:
        _warn_of_an_unused_proxy_header()
    return request.client.host if request.client else "unknown"


_FORWARDED_HEADER = "x-forwarded-for"


@functools.cache
def _warn_of_an_unused_proxy_header() -> None:
    # once per process: behind a proxy every client would otherwise share the proxy's
    # address, and one guesser's failures would lock everyone out
    log.warning(
        "a sign-in came with X-Forwarded-For but THEDATA_CLIENT_ADDRESS_HEADER is unset: "
        "sign-in limits count the peer's address; behind a proxy, set it"
    )


class AuthController(Controller):
    """Accounts and access tokens."""

    path = "/v1/auth"
    tags = ["Authentication"]  # noqa: RUF012 - Litestar reads this class attribute
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        "register_user": use_case(lambda c: c.register_user),
        "issue_access_token": use_case(lambda c: c.issue_access_token),
        "revoke_access_token": use_case(lambda c: c.revoke_access_token),
    }

    @post("/register", status_code=201, summary="Sign up", responses=PROBLEMS)
    async def register(
        self, data: JSONBody[RegisterRequest], register_user: Injected[RegisterUser]
    ) -> Response[RegistrationBody]:
        """Create an account and sign it in: the answer holds the user and an access token
        (`tdt_…`).

        No authentication. Emails are case-insensitive and unique: a taken one is 409. Passwords
        have at least 12 characters. When sign-up is turned off by configuration, 403.
        """
        registration = await register_user(data.email, data.password, data.name)
        return Response(registration_body(registration), status_code=201, headers=_NO_STORE)

    @post("/token", status_code=200, summary="Sign in", responses=PROBLEMS)
    async def token(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[TokenRequest],
        issue_access_token: Injected[IssueAccessToken],
    ) -> Response[TokenBody]:
        """Sign in: an access token (`tdt_…`) for an email and password, valid until `expires_at` or
        until signed out.

        No authentication. A wrong password and an unknown email get the same 401. Failed attempts
        count per account from one address, per account and per address; beyond a limit, 429 with
        `Retry-After`, and a refused attempt checks no password.
        """
        issued = await issue_access_token(data.email, data.password, client_address(request, state))
        return Response(token_body(issued), headers=_NO_STORE)

    @post(
        "/logout",
        status_code=204,
        summary="Sign out",
        dependencies=PRINCIPAL,
        security=SECURITY,
        responses=PROBLEMS,
    )
    async def logout(
        self,
        principal: Injected[Principal],
        revoke_access_token: Injected[RevokeAccessToken],
    ) -> None:
        """Revoke the access token of this request: it stops working at once (204).

        Any signed-in user, with the access token to end.
        """
        await revoke_access_token(principal)
