"""A new organization API key, shown once."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from attrs import frozen

from thedata.application.authorization import authorize
from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import (
    Clock,
    CredentialGenerator,
    IdFactory,
    UnitOfWork,
    UnitOfWorkFactory,
)
from thedata.domain.access import Action, Role, may_grant_key_role
from thedata.domain.api_keys import ApiKey, KeyCreator, KeyStatus
from thedata.domain.credentials import ApiKeyText, credential_hash, parse_credential
from thedata.domain.errors import FieldError, InvalidInput, PermissionDenied, Unauthenticated
from thedata.domain.organizations import OrganizationNotFound
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class NewApiKey:
    """A key's name, role and optional expiry."""

    name: str
    role: Role
    expires_at: datetime | None = None


@frozen
class CreatedApiKey:
    """The stored record and the key itself, which is never available again."""

    record: ApiKey
    key: str


class CreateApiKey:
    """Create a key whose role is at most the creator's (admins and owners).

    The key is bound to the membership of the person who made it (see
    ``thedata.domain.api_keys``); a key made by a key is bound to the person
    behind that one.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        credentials: CredentialGenerator,
        policy: IdentityPolicy,
    ) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._credentials, self._policy = credentials, policy

    async def __call__(
        self,
        principal: Principal,
        organization_id: UUID,
        command: NewApiKey,
        idempotency: IdempotentRequest[CreatedApiKey] | None = None,
    ) -> CreatedApiKey:
        """The new key; ``PermissionDenied`` for a role above the creator's."""
        creator = authorize(principal, organization_id, Action.MANAGE_API_KEYS)
        if not may_grant_key_role(creator, command.role):
            raise PermissionDenied(f"a key's role cannot be above your own ({creator.value!r})")
        name = check_display_name(command.name)
        now = self._clock.now()
        if command.expires_at is not None and command.expires_at <= now:
            raise InvalidInput(
                "the key would be expired already",
                [FieldError("/expires_at", "must be in the future")],
            )
        key = self._credentials.api_key()
        parsed = parse_credential(key)
        if not isinstance(parsed, ApiKeyText):  # pragma: no cover - the generator's own bug
            raise TypeError("the credential generator made something that is not an API key")
        ttl = self._policy.idempotency_ttl
        async with creating(self._uow, principal.scope, idempotency, now, ttl) as (uow, commit):
            if await uow.organizations.get(organization_id) is None:
                raise OrganizationNotFound(f"organization {organization_id} not found")
            made_by, joined_at = await _creator(uow, principal, organization_id, now)
            record = ApiKey(
                id=self._ids.new_id(),
                organization_id=organization_id,
                name=name,
                role=command.role,
                public_id=parsed.public_id,
                secret_hash=credential_hash(key),
                created_by=made_by.user_id,
                created_at=now,
                expires_at=command.expires_at,
                last_used_at=None,
                creator_joined_at=joined_at,
                creator=made_by,
            )
            await uow.api_keys.add(record)
            created = CreatedApiKey(record, key)
            await commit(created)
        return created


async def _creator(
    uow: UnitOfWork, principal: Principal, organization_id: UUID, now: datetime
) -> tuple[KeyCreator, datetime]:
    """The person a new key answers to, and the start of the membership it is bound to."""
    if principal.user_id is None:
        parent = await uow.api_keys.get(organization_id, principal.id)
        if parent is None or parent.status(now) is not KeyStatus.ACTIVE:
            raise Unauthenticated("the API key is invalid, expired or revoked")
        if parent.creator is None or parent.creator_joined_at is None:  # pragma: no cover
            raise TypeError("an active key always has a creator and a membership")
        return parent.creator, parent.creator_joined_at
    member = await uow.memberships.get(organization_id, principal.user_id)
    if member is None:  # removed since this request was authenticated
        raise OrganizationNotFound(f"organization {organization_id} not found")
    creator = KeyCreator(member.user_id, member.email, member.name, member.role, member.joined_at)
    return creator, member.joined_at
