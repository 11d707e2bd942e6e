"""``GET /metrics``: the Prometheus text exposition of the service's metrics."""

from __future__ import annotations

from litestar import Controller, Response, get

from thedata.entrypoints.container.edge import METRICS_CONTENT_TYPE, metrics_exposition


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
    )
    async def metrics(self) -> Response[bytes]:
        """Every metric of this process, or of every process under ``serve --workers N``,
        in Prometheus' text format."""
        return Response(
            metrics_exposition(),
            media_type=METRICS_CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )
