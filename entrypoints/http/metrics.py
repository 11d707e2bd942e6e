"""``GET /metrics``: the Prometheus text exposition of the service's metrics."""

from __future__ import annotations

from typing import Protocol

from litestar import Controller, Response, get

from thedata.entrypoints.container.edge import METRICS_CONTENT_TYPE, metrics_exposition
from thedata.entrypoints.http.dependencies import Injected, use_case


class Sampler(Protocol):
    """Records figures that are read rather than counted (the database pool's) now."""

    def sample(self) -> None: ...


class MetricsController(Controller):
    """For Prometheus to scrape; no authentication, like the health probes (expose it
    to the monitoring network only)."""

    path = "/metrics"
    tags = ["Operations"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/",
        media_type=METRICS_CONTENT_TYPE,
        summary="Metrics",
        cache_control=None,
        dependencies={"pool_metrics": use_case(lambda c: c.pool_metrics)},
    )
    async def metrics(self, pool_metrics: Injected[Sampler]) -> Response[bytes]:
        """Every metric of this process, or of every process under ``serve --workers N``,
        in Prometheus' text format."""
        pool_metrics.sample()
        return Response(
            metrics_exposition(),
            media_type=METRICS_CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )
