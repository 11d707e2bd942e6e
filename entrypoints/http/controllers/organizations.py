"""``/v1/orgs``: the caller's organizations."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from thedata.application.use_cases import (
    CreateOrganization,
    DeleteOrganization,
    GetOrganization,
    ListOrganizations,
    NewOrganization,
    OrganizationChanges,
    UpdateOrganization,
)
from thedata.domain.organizations import OrganizationWithRole
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.organizations import (
    CreateOrganizationRequest,
    OrganizationBody,
    OrganizationPage,
    UpdateOrganizationRequest,
    organization_body,
)
from thedata.entrypoints.http.unset import or_none

CREATION: Creation[OrganizationWithRole, OrganizationBody] = Creation(organization_body)

PROBLEMS = RESOURCE_PROBLEMS


class OrganizationController(Controller):
    """Organizations: any member reads; owners edit and delete."""

    path = "/v1/orgs"
    tags = ["Organizations and members"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "list_organizations": caller_use_case(lambda c: c.list_organizations),
        "create_organization": caller_use_case(lambda c: c.create_organization),
        "get_organization": caller_use_case(lambda c: c.get_organization),
        "update_organization": caller_use_case(lambda c: c.update_organization),
        "delete_organization": caller_use_case(lambda c: c.delete_organization),
    }

    @get(summary="List my organizations", responses=PROBLEMS)
    async def list_organizations(
        self,
        principal: Injected[Principal],
        list_organizations: Injected[ListOrganizations],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> OrganizationPage:
        """The organizations the caller belongs to, with the caller's role in each.

        Any signed-in user. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page).
        """
        page = page_request(limit, cursor)
        return page_body(
            OrganizationPage, await list_organizations(principal, page), organization_body
        )

    @post(summary="Create an organization", responses=PROBLEMS)
    async def create_organization(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        data: JSONBody[CreateOrganizationRequest],
        create_organization: Injected[CreateOrganization],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OrganizationBody]:
        """Create an organization; the caller becomes its owner.

        Any signed-in user. `slug` is derived from the name when left out; a taken slug is 409.
        Retry it safely with an `Idempotency-Key`: the same key and body answer the first response
        again (with `Idempotent-Replayed: true`) and create nothing; the same key with another body
        is 409. Keys are kept 24 hours.
        """
        command = NewOrganization(name=data.name, slug=or_none(data.slug))
        idempotency = await CREATION.request(request, idempotency_key)
        return CREATION.respond(await create_organization(principal, command, idempotency))

    @get("/{org_id:uuid}", summary="Get an organization", responses=PROBLEMS)
    async def get_organization(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        get_organization: Injected[GetOrganization],
    ) -> OrganizationBody:
        """An organization the caller belongs to, with the caller's role in it.

        Any member. An organization the caller is not a member of answers 404, never 403.
        """
        return organization_body(await get_organization(principal, org_id))

    @patch("/{org_id:uuid}", summary="Update an organization", responses=PROBLEMS)
    async def update_organization(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data: JSONBody[UpdateOrganizationRequest],
        update_organization: Injected[UpdateOrganization],
    ) -> OrganizationBody:
        """Rename an organization or change its slug; fields left out are kept.

        Owners only (others: 403). A taken slug is 409. An organization the caller is not a member
        of answers 404, never 403.
        """
        changes = OrganizationChanges(name=or_none(data.name), slug=or_none(data.slug))
        return organization_body(await update_organization(principal, org_id, changes))

    @delete("/{org_id:uuid}", summary="Delete an organization", responses=PROBLEMS)
    async def delete_organization(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        delete_organization: Injected[DeleteOrganization],
    ) -> None:
        """Delete an organization with everything it owns: members, API keys, data sources,
        pipelines and runs (204).

        Owners only (others: 403). An organization the caller is not a member of answers 404, never
        403.
        """
        await delete_organization(principal, org_id)
