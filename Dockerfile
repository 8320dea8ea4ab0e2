# syntax=docker/dockerfile:1
# Multi-stage: build wheels for cosync and its installed plugins, then a slim runtime with only those.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cosync_worker ./cosync_worker
COPY plugins ./plugins
RUN pip wheel --no-cache-dir --wheel-dir /wheels . plugins/cosync_aws plugins/cosync_gcp plugins/cosync_microsoft

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COSYNC__LOGGING__FORMAT=json \
    COSYNC__RELAY__HOST=0.0.0.0
RUN groupadd --system --gid 10001 cosync \
    && useradd --system --uid 10001 --gid cosync --home-dir /app --create-home cosync
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/*.whl && rm -rf /wheels
COPY --chown=cosync:cosync config.yaml /app/config.yaml
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["cosync"]
CMD ["run", "--config", "/app/config.yaml"]
