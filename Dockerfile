# syntax=docker/dockerfile:1
# Multi-stage: build wheels for cosync, the three cloud connectors and their locked dependencies, then a slim
# runtime with only those. No test code: the example connector and the test extras are not installed.
#
# Base image: pin it by digest for a release build, e.g.
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # note the index digest
#   docker buildx build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<that digest> ...
# (docs/deploy.md). The default is the tag, since no digest can be verified from where this file is written.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements/image.txt ./requirements/image.txt
COPY pyproject.toml README.md LICENSE ./
COPY cosync_worker ./cosync_worker
COPY plugins/cosync_aws ./plugins/cosync_aws
COPY plugins/cosync_gcp ./plugins/cosync_gcp
COPY plugins/cosync_microsoft ./plugins/cosync_microsoft
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint requirements/image.txt \
        . plugins/cosync_aws plugins/cosync_gcp plugins/cosync_microsoft

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cosync" \
      org.opencontainers.image.description="Keeps HubSpot CRM in sync with the co-sell programs of AWS, Google Cloud and Microsoft" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COSYNC__LOGGING__FORMAT=json \
    COSYNC__RELAY__HOST=0.0.0.0
RUN groupadd --system --gid 10001 cosync \
    && useradd --system --uid 10001 --gid cosync --home-dir /app --create-home cosync
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/cosync_*.whl && rm -rf /wheels
COPY --chown=cosync:cosync config.yaml /app/config.yaml
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["cosync"]
CMD ["run", "--config", "/app/config.yaml"]
