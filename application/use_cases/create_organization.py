"""A new organization, owned by the user who creates it."""

from __future__ import annotations

from attrs import frozen

from thedata.application.authorization import require_user
from thedata.application.idempotency import IdempotentRequest, creating
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import Clock, IdFactory, UnitOfWorkFactory
from thedata.domain.access import Role
from thedata.domain.organizations import (
    Membership,
    Organization,
    OrganizationWithRole,
    SlugTaken,
    check_slug,
    slug_from_name,
)
from thedata.domain.principal import Principal
from thedata.domain.users import check_display_name


@frozen
class NewOrganization:
    """An organization's name and, optionally, its slug (derived from the name otherwise)."""

    name: str
    slug: str | None = None


class CreateOrganization:
    """Create an organization and make the caller its owner, once per idempotency key."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory, policy: IdentityPolicy
    ) -> None:
        self._uow, self._clock, self._ids, self._policy = uow, clock, ids, policy

    async def __call__(
        self,
        principal: Principal,
        command: NewOrganization,
        idempotency: IdempotentRequest[OrganizationWithRole] | None = None,
    ) -> OrganizationWithRole:
        """The new organization, with the caller as its owner."""
        user_id = require_user(principal)
        name = check_display_name(command.name)
        requested = check_slug(command.slug) if command.slug is not None else None
        now = self._clock.now()
        organization_id = self._ids.new_id()
        ttl = self._policy.idempotency_ttl
        async with creating(self._uow, principal.scope, idempotency, now, ttl) as (uow, commit):
            slug = requested or slug_from_name(name)
            if await uow.organizations.slug_taken(slug):
                if requested is not None:
                    raise SlugTaken(f"the slug {slug!r} is taken")
                slug = f"{slug[:56]}-{organization_id.hex[-6:]}"
            organization = Organization(organization_id, name, slug, now, now)
            await uow.organizations.add(organization)
            await uow.memberships.add(Membership(organization.id, user_id, Role.OWNER, now))
            result = OrganizationWithRole(organization, Role.OWNER)
            await commit(result)
        return result
