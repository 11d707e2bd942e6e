# syntax=docker/dockerfile:1
# theData.io API: one image for `thedata serve` (the API) and `thedata worker`.
# Build: docker build -t thedata .   Run: see deploy/docker-compose.yml and README.md.

# Builder: a virtual environment with the package and its otel extra, compiled wheels
# only (psycopg's binary build: no libpq, no compiler in the image).
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/thedata
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY adapters adapters
COPY entrypoints entrypoints
RUN /opt/thedata/bin/pip install ".[otel]"

# Runtime: the environment alone, run by an unprivileged user whose home holds
# THEDATA_HOME (nothing else is writable).
FROM python:3.11-slim-bookworm
# the data root made here, owned by the user, so that a volume mounted on it starts so too
RUN groupadd --system --gid 10001 thedata \
    && useradd --system --uid 10001 --gid thedata --create-home --home-dir /var/lib/thedata thedata \
    && install --directory --owner=thedata --group=thedata /var/lib/thedata/data
COPY --from=build /opt/thedata /opt/thedata
ENV PATH=/opt/thedata/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    THEDATA_HOME=/var/lib/thedata \
    THEDATA_DATA_ROOT=/var/lib/thedata/data \
    THEDATA_HOST=0.0.0.0
# numeric: Kubernetes can then check runAsNonRoot without reading /etc/passwd
USER 10001:10001
WORKDIR /var/lib/thedata
EXPOSE 8000
# liveness only: readiness (/health/ready) is for the load balancer, and a restart does
# not fix what it reports. The port is THEDATA_PORT's default: a command that moves it
# needs its own check (tests/unit/test_deployment_files.py holds the two together).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]
ENTRYPOINT ["thedata"]
CMD ["serve"]
