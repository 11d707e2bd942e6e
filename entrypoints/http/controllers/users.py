"""``/v1/users/me``: the signed-in user's own account."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Controller, Request, get, patch
from litestar.datastructures import State
from litestar.params import JSONBody

from thedata.application.use_cases import GetCurrentUser, UpdateCurrentUser, UserChanges
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.controllers.auth import client_address
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS, problem_responses
from thedata.entrypoints.http.schemas.auth import MeBody, UpdateMeRequest, me_body
from thedata.entrypoints.http.unset import or_none

PROBLEMS = RESOURCE_PROBLEMS
# a wrong current password counts on the same limits as a failed sign-in
UPDATE_PROBLEMS = {**RESOURCE_PROBLEMS, **problem_responses(HTTPStatus.TOO_MANY_REQUESTS)}


class UserController(Controller):
    """The caller's account."""

    path = "/v1/users/me"
    tags = ["Authentication"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "get_current_user": caller_use_case(lambda c: c.get_current_user),
        "update_current_user": caller_use_case(lambda c: c.update_current_user),
    }

    @get(summary="Who am I", responses=PROBLEMS)
    async def me(
        self,
        principal: Injected[Principal],
        get_current_user: Injected[GetCurrentUser],
    ) -> MeBody:
        """The caller's account and each organization they belong to, with their role there.

        Any signed-in user, with an access token (an organization API key acts for no user).
        """
        return me_body(await get_current_user(principal))

    @patch(summary="Update my account", responses=UPDATE_PROBLEMS)
    async def update(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: Injected[Principal],
        data: JSONBody[UpdateMeRequest],
        update_current_user: Injected[UpdateCurrentUser],
    ) -> MeBody:
        """Rename the caller's account, or change its password; fields left out are kept.

        A new `password` needs `current_password`, and signs out the account's other access tokens.
        Wrong current passwords count on the sign-in limits: beyond them, 429 with `Retry-After`.
        """
        changes = UserChanges(
            name=or_none(data.name),
            password=or_none(data.password),
            current_password=or_none(data.current_password),
        )
        address = client_address(request, state)
        return me_body(await update_current_user(principal, changes, address))
