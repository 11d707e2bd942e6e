"""``/health/live`` and ``/health/ready`` in the IETF health-check response format."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from thedata.application.health import CheckResult, HealthReport, HealthStatus
from thedata.application.use_cases import CheckReadiness
from thedata.entrypoints.container.edge import record_readiness
from thedata.entrypoints.http.dependencies import Injected, use_case

HEALTH_MEDIA_TYPE = "application/health+json"
_NO_STORE = {"Cache-Control": "no-store"}
READY_RETRY_AFTER = 5  # seconds: what a failing check needs to change is not quicker


class HealthCheckEntry(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """One measurement of one component (draft-inadarei-api-health-check)."""

    component_id: str
    component_type: str
    status: Literal["pass", "warn", "fail"]
    time: datetime
    # a count or a latency: JSON's one number type (``float | int`` made the schema's oneOf
    # match an integer twice)
    observed_value: float | None = None
    observed_unit: str | None = None
    output: str | None = None


class HealthBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """The service's verdict and, for readiness, each check grouped by component."""

    status: Literal["pass", "warn", "fail"]
    checks: dict[str, list[HealthCheckEntry]] | None = None


def _entry(result: CheckResult) -> HealthCheckEntry:
    return HealthCheckEntry(
        component_id=result.measurement,
        component_type=result.component_type,
        status=result.status.value,
        time=result.time,
        observed_value=result.observed_value,
        observed_unit=result.observed_unit,
        output=result.output,
    )


def health_body(report: HealthReport) -> HealthBody:
    """Group the report's results by component, as the health-check draft lays them out."""
    checks: dict[str, list[HealthCheckEntry]] = {}
    for result in report.checks:
        checks.setdefault(result.component, []).append(_entry(result))
    return HealthBody(status=report.status.value, checks=checks)


def _worst_by_component(report: HealthReport) -> dict[str, int]:
    """Each component's worst result, as the status's severity (0 pass, 1 warn, 2 fail)."""
    worst: dict[str, int] = {}
    for result in report.checks:
        worst[result.component] = max(worst.get(result.component, 0), result.status.severity)
    return worst


class HealthController(Controller):
    """Probes for orchestrators and load balancers; no authentication, never cached."""

    path = "/health"
    tags = ["Operations"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/live", media_type=HEALTH_MEDIA_TYPE, summary="Liveness", cache_control=None)
    async def live(self) -> Response[HealthBody]:
        """``pass`` while the process serves requests; touches no dependency."""
        return Response(HealthBody(status="pass"), headers=_NO_STORE)

    @get(
        "/ready",
        media_type=HEALTH_MEDIA_TYPE,
        summary="Readiness",
        dependencies={"check_readiness": use_case(lambda c: c.check_readiness)},
        responses={
            503: ResponseSpec(
                data_container=HealthBody,
                media_type=HEALTH_MEDIA_TYPE,
                description="A dependency failed its check; `Retry-After` says when to ask again",
            )
        },
    )
    async def ready(self, check_readiness: Injected[CheckReadiness]) -> Response[HealthBody]:
        """``pass``/``warn`` (200) when the database answers and is migrated, else ``fail`` (503).

        Every check has a time limit, so the answer comes in about a second even
        while a dependency hangs.
        """
        report = await check_readiness()
        record_readiness(_worst_by_component(report))
        if report.status is HealthStatus.FAIL:
            headers = _NO_STORE | {"Retry-After": str(READY_RETRY_AFTER)}
            return Response(health_body(report), status_code=503, headers=headers)
        return Response(health_body(report), headers=_NO_STORE)
