"""``/v1/auth``: sign-up, sign-in, sign-out."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

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


def client_address(request: Request[Any, Any, Any], state: State) -> str:
    """The client's address for sign-in limits: the trusted proxy's header, else the peer."""
    header = container_of(state).settings().client_address_header
    if header is not None:
        forwarded = request.headers.get(header, "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"


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
        """Create an account and sign it in. 409 if the email is taken; 403 if sign-up is off."""
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
        """An access token for an email and password; 401 if wrong, 429 after many failures."""
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
        """Revoke the access token of this request at once."""
        await revoke_access_token(principal)
