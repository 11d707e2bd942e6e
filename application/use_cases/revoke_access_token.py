"""Sign-out: the access token of the call stops working at once."""

from __future__ import annotations

from thedata.application.authorization import require_user
from thedata.application.ports import UnitOfWorkFactory
from thedata.domain.principal import Principal


class RevokeAccessToken:
    """Delete the token the caller signed in with; the next request with it is refused."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> None:
        """Sign the caller out (API keys are revoked by deleting them instead)."""
        require_user(principal)
        if principal.token_hash is None:
            return
        async with self._uow() as uow:
            await uow.access_tokens.revoke(principal.token_hash)
            await uow.commit()
