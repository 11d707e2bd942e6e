"""Traces of real requests, caught with the OpenTelemetry SDK's in-memory exporter: a server
span per request named by its route, a client span per database statement beneath it, the
caller's trace continued, the ids on the log lines; and no span code at all when off."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import make_settings
from tests.e2e.api import create_org, folder_sources, register
from tests.e2e.conftest import CHEAP_HASHING
from tests.e2e.probe_routes import probe_router
from thedata.adapters.observability.tracing import TRACED
from thedata.entrypoints.container import Container, build_container
from thedata.entrypoints.http import create_app
from thedata.entrypoints.http.request_context import RequestContextMiddleware
from thedata.entrypoints.http.server_spans import TracedRequestContextMiddleware
from thedata.entrypoints.resolve import resolve
from thedata.entrypoints.worker import Worker

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    caught = InMemorySpanExporter()
    yield caught
    TRACED.requests = False  # as in a process that does not trace


@pytest.fixture
def container(database_url: str, tmp_path: Path, exporter: InMemorySpanExporter) -> Container:
    """The service's container, tracing into ``exporter``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    made = build_container(
        make_settings(database_url=database_url, data_root=str(tmp_path / "d"), **CHEAP_HASHING)
    )
    made.tracer.override(providers.Object(provider.get_tracer("thedata")))
    return made


@pytest.fixture
async def client(container: Container) -> AsyncIterator[Any]:
    app = create_app(container)
    app.register(probe_router)
    async with AsyncTestClient(app) as test_client:
        yield test_client


def spans_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


async def test_a_request_is_a_server_span_named_by_its_route_over_its_statements(
    client: Any, exporter: InMemorySpanExporter
) -> None:
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    exporter.clear()
    missing = uuid.uuid4()
    response = await client.get(f"/v1/orgs/{org}/pipelines/{missing}", headers=headers)
    assert response.status_code == 404
    (server,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.name == "GET /v1/orgs/{org_id}/pipelines/{pipeline_id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/v1/orgs/{org_id}/pipelines/{pipeline_id}"
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is StatusCode.UNSET  # a 4xx is the client's, not ours
    statements = [
        s for s in spans_of(exporter, server.context.trace_id) if s.kind is SpanKind.CLIENT
    ]
    assert statements, "no database span"
    for statement in statements:
        assert statement.parent is not None
        assert statement.parent.span_id == server.context.span_id
        assert statement.attributes is not None
        assert statement.attributes["db.system.name"] == "postgresql"
        assert statement.attributes["db.operation.name"] == "SELECT"
    tables = {s.attributes["db.collection.name"] for s in statements if s.attributes}
    assert "pipelines" in tables
    # a statement's span never holds a parameter value (the pipeline, the organization,
    # the token's hash), nor does any span hold the token
    token = headers["Authorization"].split()[-1]
    for statement in statements:
        values = " ".join(str(v) for v in (statement.attributes or {}).values())
        assert str(missing) not in values
        assert org not in values
    for span in exporter.get_finished_spans():
        assert token not in " ".join(str(v) for v in (span.attributes or {}).values())


async def test_a_caller_s_trace_is_continued_and_named_on_the_access_line(
    client: Any, exporter: InMemorySpanExporter, log_lines: io.StringIO
) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    response = await client.get("/health/live", headers={"traceparent": traceparent})
    assert response.status_code == 200
    (server,) = spans_of(exporter, int(TRACE_ID, 16))
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_ID
    assert server.name == "GET /health/live"
    await client.get("/metrics")  # a later request's turn writes the access line
    access = [
        json.loads(line)
        for line in log_lines.getvalue().splitlines()
        if '"route":"/health/live"' in line
    ]
    assert access[-1]["trace_id"] == TRACE_ID
    assert access[-1]["span_id"] == format(server.context.span_id, "016x")


async def test_a_server_error_is_an_error_span(client: Any, exporter: InMemorySpanExporter) -> None:
    response = await client.get("/v1/users/me", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    (server,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.status.status_code is StatusCode.UNSET


def test_without_a_tracer_the_app_runs_no_span_code(database_url: str) -> None:
    """Off is off: the plain middleware, not the traced one with a no-op tracer."""
    app = create_app(build_container(make_settings(database_url=database_url)))
    assert type(app.asgi_handler) is RequestContextMiddleware
    assert not isinstance(app.asgi_handler, TracedRequestContextMiddleware)


async def test_a_run_attempt_is_a_trace_linked_to_its_trigger_with_a_span_per_stream(
    client: Any, container: Container, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    headers, _ = await register(client, "ada@x.io")
    org = await create_org(client, headers)
    ids = await folder_sources(client, headers, org, tmp_path / "d")
    (tmp_path / "d" / org / "in" / "orders.csv").write_text("id,item\n1,pen\n")
    stream = {"name": "orders", "destination": "orders", "mode": "full_refresh"}
    body: dict[str, Any] = {
        "name": "copy",
        "source_id": ids[0],
        "destination_id": ids[1],
        "streams": [stream],
    }
    pipeline = (await client.post(f"/v1/orgs/{org}/pipelines", json=body, headers=headers)).json()
    exporter.clear()
    run = (
        await client.post(f"/v1/orgs/{org}/pipelines/{pipeline['id']}/runs", headers=headers)
    ).json()
    (trigger,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    worker = Worker(
        await resolve(container.run_queue),
        await resolve(container.execute_run),
        tracer=container.tracer(),
        poll=0.05,
    )
    stopping = asyncio.Event()
    working = asyncio.create_task(worker.run(stopping))
    try:
        for _ in range(400):
            status = (await client.get(f"/v1/orgs/{org}/runs/{run['id']}", headers=headers)).json()
            if status["status"] == "succeeded":
                break
            await asyncio.sleep(0.05)
    finally:
        stopping.set()
        await working
    assert status["status"] == "succeeded"
    (attempt,) = [s for s in exporter.get_finished_spans() if s.name == "run attempt"]
    assert attempt.attributes is not None
    assert attempt.attributes["thedata.run.id"] == run["id"]
    assert attempt.attributes["thedata.run.status"] == "succeeded"
    assert attempt.context.trace_id != trigger.context.trace_id  # a trace of its own
    (link,) = attempt.links
    assert (link.context.trace_id, link.context.span_id) == (
        trigger.context.trace_id,
        trigger.context.span_id,
    )
    inside = spans_of(exporter, attempt.context.trace_id)
    (stream_span,) = [s for s in inside if s.name == "stream"]
    assert stream_span.parent is not None
    assert stream_span.parent.span_id == attempt.context.span_id
    assert stream_span.attributes == {
        "thedata.stream.name": "orders",
        "thedata.stream.mode": "full_refresh",
    }
    assert any(s.kind is SpanKind.CLIENT for s in inside), "the attempt's statements"


class CountingTracer:
    """A tracer that counts the client spans asked of it, passing everything on."""

    def __init__(self, tracer: Any) -> None:
        self._tracer, self.client_spans = tracer, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracer, name)

    def start_as_current_span(self, name: str, **kwargs: Any) -> Any:
        if kwargs.get("kind") is SpanKind.CLIENT:
            self.client_spans += 1
        return self._tracer.start_as_current_span(name, **kwargs)


@pytest.mark.parametrize(("ratio", "spans_made"), [(0.0, False), (1.0, True)])
async def test_statements_of_a_trace_the_sampler_dropped_make_no_span_at_all(
    database_url: str, tmp_path: Path, ratio: float, spans_made: bool
) -> None:
    """One trace in N kept must cost the other N-1 next to nothing: beneath a request whose
    trace was not sampled, statements run without asking the tracer for a span."""
    sampler = ParentBased(TraceIdRatioBased(ratio))
    tracer = CountingTracer(TracerProvider(sampler=sampler).get_tracer("thedata"))
    made = build_container(
        make_settings(database_url=database_url, data_root=str(tmp_path / "d"), **CHEAP_HASHING)
    )
    made.tracer.override(providers.Object(tracer))
    try:
        async with AsyncTestClient(create_app(made)) as client:
            headers, _ = await register(client, "sampled@x.io")
            tracer.client_spans = 0
            response = await client.get("/v1/users/me", headers=headers)
            assert response.status_code == 200
    finally:
        TRACED.requests = False
    assert (tracer.client_spans > 0) is spans_made
