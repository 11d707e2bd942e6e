"""``/v1/orgs/{org_id}/data-sources``: connections pipelines read from and write to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from thedata.application.use_cases import (
    CheckDataSource,
    CreateDataSource,
    DataSourceChanges,
    DeleteDataSource,
    DiscoverStreams,
    GetDataSource,
    ListDataSources,
    NewDataSource,
    UpdateDataSource,
)
from thedata.domain.data_sources import DataSource, DataSourceKind
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.data_sources import (
    CheckBody,
    CreateDataSourceRequest,
    DataSourceBody,
    DataSourcePage,
    StreamsBody,
    UpdateDataSourceRequest,
    check_body,
    data_source_body,
    streams_body,
)
from thedata.entrypoints.http.unset import or_none

PROBLEMS = RESOURCE_PROBLEMS
CREATION: Creation[DataSource, DataSourceBody] = Creation(data_source_body)
ID = "/{data_source_id:uuid}"


class DataSourceController(Controller):
    """Data sources: any member reads; members and up create, edit, check and delete."""

    path = "/v1/orgs/{org_id:uuid}/data-sources"
    tags = ["Data sources"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "list_data_sources": caller_use_case(lambda c: c.list_data_sources),
        "create_data_source": caller_use_case(lambda c: c.create_data_source),
        "get_data_source": caller_use_case(lambda c: c.get_data_source),
        "update_data_source": caller_use_case(lambda c: c.update_data_source),
        "delete_data_source": caller_use_case(lambda c: c.delete_data_source),
        "check_data_source": caller_use_case(lambda c: c.check_data_source),
        "discover_streams": caller_use_case(lambda c: c.discover_streams),
    }

    @get(summary="List data sources", responses=PROBLEMS)
    async def list_data_sources(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        list_data_sources: Injected[ListDataSources],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> DataSourcePage:
        """The organization's data sources; secret fields are named in `secret_fields_set`, never
        shown.

        Any member. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page). An organization the caller is not a member of
        answers 404, never 403.
        """
        page = page_request(limit, cursor)
        return page_body(
            DataSourcePage, await list_data_sources(principal, org_id, page), data_source_body
        )

    @post(summary="Create a data source", responses=PROBLEMS)
    async def create_data_source(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data: JSONBody[CreateDataSourceRequest],
        create_data_source: Injected[CreateDataSource],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[DataSourceBody]:
        """Create a data source: a connection pipelines read from or write to. `kind` selects the
        connector and the schema of `config` (`postgres` or `file`).

        Members and up (viewers: 403). Secret fields (`password`) are sealed in the secret store and
        never returned. A name taken in the organization is 409; a config the connector refuses (a
        `file` path outside the organization's folder, say) is 400. Retry it safely with an
        `Idempotency-Key`: the same key and body answer the first response again (with
        `Idempotent-Replayed: true`) and create nothing; the same key with another body is 409. Keys
        are kept 24 hours.
        """
        kind = DataSourceKind(str(data.__struct_config__.tag))  # the union's tag is the kind
        command = NewDataSource(data.name, kind, msgspec.structs.asdict(data.config))
        idempotency = await CREATION.request(request, idempotency_key)
        return CREATION.respond(await create_data_source(principal, org_id, command, idempotency))

    @get(ID, summary="Get a data source", responses=PROBLEMS)
    async def get_data_source(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data_source_id: FromPath[UUID],
        get_data_source: Injected[GetDataSource],
    ) -> DataSourceBody:
        """A data source, with its health: the circuit breaker's state, the last check and the last
        error.

        Any member. An organization the caller is not a member of answers 404, never 403.
        """
        return data_source_body(await get_data_source(principal, org_id, data_source_id))

    @patch(ID, summary="Update a data source", responses=PROBLEMS)
    async def update_data_source(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data_source_id: FromPath[UUID],
        data: JSONBody[UpdateDataSourceRequest],
        update_data_source: Injected[UpdateDataSource],
    ) -> DataSourceBody:
        """Rename a data source or change config fields of its kind; fields left out are kept.

        Members and up. A secret given replaces the stored one; one left out is kept. A taken name
        is 409. An organization the caller is not a member of answers 404, never 403.
        """
        changes = DataSourceChanges(name=or_none(data.name), config=or_none(data.config))
        return data_source_body(
            await update_data_source(principal, org_id, data_source_id, changes)
        )

    @delete(ID, summary="Delete a data source", responses=PROBLEMS)
    async def delete_data_source(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data_source_id: FromPath[UUID],
        delete_data_source: Injected[DeleteDataSource],
    ) -> None:
        """Delete a data source and its secrets (204).

        Members and up. 409 while a pipeline uses it. An organization the caller is not a member of
        answers 404, never 403.
        """
        await delete_data_source(principal, org_id, data_source_id)

    @post(ID + "/check", status_code=200, summary="Check a data source", responses=PROBLEMS)
    async def check_data_source(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data_source_id: FromPath[UUID],
        check_data_source: Injected[CheckDataSource],
    ) -> CheckBody:
        """Connect to the data source and do the least possible, to see that it answers.

        Members and up. A failed check is a 200 with `ok: false` and an `error` in our own words,
        never the driver's. An organization the caller is not a member of answers 404, never 403.
        """
        return check_body(await check_data_source(principal, org_id, data_source_id))

    @get(ID + "/streams", summary="Discover streams", responses=PROBLEMS)
    async def discover_streams(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data_source_id: FromPath[UUID],
        discover_streams: Injected[DiscoverStreams],
    ) -> StreamsBody:
        """The streams the data source offers, with their fields and primary keys: the tables of a
        schema, or the files of a folder.

        Any member. A config the system refuses is 400; a system that does not answer, 503. An
        organization the caller is not a member of answers 404, never 403.
        """
        return streams_body(list(await discover_streams(principal, org_id, data_source_id)))
