"""``/v1/orgs/{org_id}/pipelines``: what moves from which source to which destination."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from thedata.application.use_cases import (
    KEEP,
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    NewPipeline,
    PipelineChanges,
    UpdatePipeline,
)
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.pipelines import Pipeline
from thedata.domain.principal import Principal
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.pipelines import (
    CreatePipelineRequest,
    PipelineBody,
    PipelinePage,
    UpdatePipelineRequest,
    pipeline_body,
    schedule_of,
    stream_of,
)

PROBLEMS = RESOURCE_PROBLEMS
ID = "/{pipeline_id:uuid}"


def _body(pipeline: Pipeline) -> PipelineBody:
    return pipeline_body(pipeline, datetime.now(UTC))


CREATION: Creation[Pipeline, PipelineBody] = Creation(_body)


def _changes(data: UpdatePipelineRequest) -> PipelineChanges:
    def given(value: Any) -> Any:
        return KEEP if isinstance(value, msgspec.UnsetType) else value

    streams = given(data.streams)
    schedule = given(data.schedule)
    return PipelineChanges(
        name=given(data.name),
        source_id=given(data.source_id),
        destination_id=given(data.destination_id),
        streams=streams if streams is KEEP else [stream_of(s) for s in streams],
        schedule=schedule if schedule is KEEP else schedule_of(schedule),
        enabled=given(data.enabled),
    )


class PipelineController(Controller):
    """Pipelines: any member reads; members and up create, edit and delete."""

    path = "/v1/orgs/{org_id:uuid}/pipelines"
    tags = ["Pipelines and runs"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "list_pipelines": caller_use_case(lambda c: c.list_pipelines),
        "create_pipeline": caller_use_case(lambda c: c.create_pipeline),
        "get_pipeline": caller_use_case(lambda c: c.get_pipeline),
        "update_pipeline": caller_use_case(lambda c: c.update_pipeline),
        "delete_pipeline": caller_use_case(lambda c: c.delete_pipeline),
    }

    @get(summary="List pipelines", responses=PROBLEMS)
    async def list_pipelines(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        list_pipelines: Injected[ListPipelines],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> PipelinePage:
        """The organization's pipelines.

        Any member. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page). An organization the caller is not a member of
        answers 404, never 403.
        """
        page = page_request(limit, cursor)
        return page_body(PipelinePage, await list_pipelines(principal, org_id, page), _body)

    @post(summary="Create a pipeline", responses=PROBLEMS)
    async def create_pipeline(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        data: JSONBody[CreatePipelineRequest],
        create_pipeline: Injected[CreatePipeline],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PipelineBody]:
        """Create a pipeline: which streams move from a source to a destination (both data sources
        of the organization), on a schedule (`every_seconds` ≥ 60, or a 5-field `cron` in UTC) or
        only on demand.

        Members and up. An `incremental` stream needs `cursor_field`; with `primary_key` its rows
        are upserted, without one appended; `full_refresh` replaces the destination table. Retry it
        safely with an `Idempotency-Key`: the same key and body answer the first response again
        (with `Idempotent-Replayed: true`) and create nothing; the same key with another body is
        409. Keys are kept 24 hours.
        """
        command = NewPipeline(
            name=data.name,
            source_id=data.source_id,
            destination_id=data.destination_id,
            streams=[stream_of(s) for s in data.streams],
            schedule=schedule_of(data.schedule),
            enabled=data.enabled,
        )
        idempotency = await CREATION.request(request, idempotency_key)
        return CREATION.respond(await create_pipeline(principal, org_id, command, idempotency))

    @get(ID, summary="Get a pipeline", responses=PROBLEMS)
    async def get_pipeline(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        pipeline_id: FromPath[UUID],
        get_pipeline: Injected[GetPipeline],
    ) -> PipelineBody:
        """A pipeline, with its `state` (each stream's cursor, changed by runs only) and
        `next_run_at`.

        Any member. An organization the caller is not a member of answers 404, never 403.
        """
        return _body(await get_pipeline(principal, org_id, pipeline_id))

    @patch(ID, summary="Update a pipeline", responses=PROBLEMS)
    async def update_pipeline(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        pipeline_id: FromPath[UUID],
        data: JSONBody[UpdatePipelineRequest],
        update_pipeline: Injected[UpdatePipeline],
    ) -> PipelineBody:
        """Change a pipeline's definition; fields left out are kept, `"schedule": null` unschedules
        it and `state` is read-only.

        Members and up. An organization the caller is not a member of answers 404, never 403.
        """
        return _body(await update_pipeline(principal, org_id, pipeline_id, _changes(data)))

    @delete(ID, summary="Delete a pipeline", responses=PROBLEMS)
    async def delete_pipeline(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        pipeline_id: FromPath[UUID],
        delete_pipeline: Injected[DeletePipeline],
    ) -> None:
        """Delete a pipeline with its state (204).

        Members and up. An organization the caller is not a member of answers 404, never 403.
        """
        await delete_pipeline(principal, org_id, pipeline_id)
