"""Runs: ``/v1/orgs/{org_id}/pipelines/{id}/runs`` and ``/v1/orgs/{org_id}/runs``."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from thedata.application.use_cases import CancelRun, GetRun, ListRuns, TriggerRun
from thedata.domain.pagination import DEFAULT_PAGE_SIZE
from thedata.domain.principal import Principal
from thedata.domain.runs import Run, RunStatus
from thedata.entrypoints.container.edge import current_trace_parent
from thedata.entrypoints.http.auth import PRINCIPAL, SECURITY, caller_use_case
from thedata.entrypoints.http.dependencies import Injected
from thedata.entrypoints.http.idempotency import Creation, IdempotencyKey
from thedata.entrypoints.http.pagination import Cursor, Limit, page_body, page_request
from thedata.entrypoints.http.problems import RESOURCE_PROBLEMS
from thedata.entrypoints.http.schemas.runs import RunBody, RunPage, StatusName, run_body

PROBLEMS = RESOURCE_PROBLEMS
RUN = "/runs/{run_id:uuid}"
TRIGGER: Creation[Run, RunBody] = Creation(run_body, status=202)
StatusFilter = Annotated[
    StatusName | None, QueryParameter(description="Only runs with this status.")
]


class RunController(Controller):
    """Any member reads runs; members and up trigger and cancel them."""

    path = "/v1/orgs/{org_id:uuid}"
    tags = ["Pipelines and runs"]  # noqa: RUF012 - Litestar reads this class attribute
    security = SECURITY
    dependencies = {  # noqa: RUF012 - Litestar reads this class attribute
        **PRINCIPAL,
        "trigger_run": caller_use_case(lambda c: c.trigger_run),
        "list_runs": caller_use_case(lambda c: c.list_runs),
        "get_run": caller_use_case(lambda c: c.get_run),
        "cancel_run": caller_use_case(lambda c: c.cancel_run),
    }

    @post(
        "/pipelines/{pipeline_id:uuid}/runs",
        status_code=202,
        summary="Trigger a run",
        responses=PROBLEMS,
    )
    async def trigger_run(
        self,
        request: Request[Any, Any, Any],
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        pipeline_id: FromPath[UUID],
        trigger_run: Injected[TriggerRun],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunBody]:
        """Queue a run of the pipeline now: 202 with the run, `queued`; a worker takes it from
        there.

        Members and up. 409 while a run of the pipeline is queued or running. Retry it safely with
        an `Idempotency-Key`: the same key and body answer the first response again (with
        `Idempotent-Replayed: true`) and create nothing; the same key with another body is 409. Keys
        are kept 24 hours. An organization the caller is not a member of answers 404, never 403.
        """
        idempotency = await TRIGGER.request(request, idempotency_key)
        run = await trigger_run(
            principal, org_id, pipeline_id, idempotency, trace_parent=current_trace_parent()
        )
        return TRIGGER.respond(run)

    @get(
        "/pipelines/{pipeline_id:uuid}/runs",
        summary="List a pipeline's runs",
        responses=PROBLEMS,
    )
    async def list_pipeline_runs(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        pipeline_id: FromPath[UUID],
        list_runs: Injected[ListRuns],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
        status: StatusFilter = None,
    ) -> RunPage:
        """The pipeline's runs, newest first.

        Any member. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page). An organization the caller is not a member of
        answers 404, never 403.
        """
        page = page_request(limit, cursor)
        runs = await list_runs(
            principal, org_id, page, pipeline_id=pipeline_id, status=_status(status)
        )
        return page_body(RunPage, runs, run_body)

    @get("/runs", summary="List runs", responses=PROBLEMS)
    async def list_runs(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        list_runs: Injected[ListRuns],
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
        status: StatusFilter = None,
    ) -> RunPage:
        """The organization's runs, newest first; `status` keeps those in one state.

        Any member. A page: `limit` (1..200, default 50) and `cursor` (the previous page's
        `next_cursor`, `null` on the last page). An organization the caller is not a member of
        answers 404, never 403.
        """
        page = page_request(limit, cursor)
        runs = await list_runs(principal, org_id, page, status=_status(status))
        return page_body(RunPage, runs, run_body)

    @get(RUN, summary="Get a run", responses=PROBLEMS)
    async def get_run(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        run_id: FromPath[UUID],
        get_run: Injected[GetRun],
    ) -> RunBody:
        """A run: its status, figures so far (rows read and written, per stream), error and
        attempts.

        Any member. An organization the caller is not a member of answers 404, never 403.
        """
        return run_body(await get_run(principal, org_id, run_id))

    @post(RUN + "/cancel", status_code=202, summary="Cancel a run", responses=PROBLEMS)
    async def cancel_run(
        self,
        principal: Injected[Principal],
        org_id: FromPath[UUID],
        run_id: FromPath[UUID],
        cancel_run: Injected[CancelRun],
    ) -> RunBody:
        """Cancel a run: a queued one at once, a running one at its next batch (202, with
        `cancel_requested` until it stops).

        Members and up. A run that has finished is 409. An organization the caller is not a member
        of answers 404, never 403.
        """
        return run_body(await cancel_run(principal, org_id, run_id))


def _status(name: str | None) -> RunStatus | None:
    return None if name is None else RunStatus(name)
