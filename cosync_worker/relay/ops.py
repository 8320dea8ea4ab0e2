"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (its dependencies answer and a
connector is installed) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from ..logs import get_logger
from .keys import PLUGINS, QUEUE, STORE
from .openapi import OperationDoc

__all__ = ["Health", "Readiness", "add_ops_routes", "healthz", "metrics", "readyz"]

log = get_logger("cosync.relay")

# A dependency that hangs must make readiness fail, not make the probe itself hang.
_PING_TIMEOUT = 3.0


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="`ready` or `not ready`")
    checks: dict[str, str] = Field(description="check name -> `ok` or why it failed")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(Health(status="ok").model_dump())


async def _check(ping: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(ping(), _PING_TIMEOUT)
    except TimeoutError:
        return f"failed: no answer within {_PING_TIMEOUT:g}s"
    except Exception as exc:
        # The exception class only: messages of some backends carry endpoints or paths.
        return f"failed: {type(exc).__name__}"
    return "ok"


async def readyz(request: web.Request) -> web.Response:
    queue_check, store_check = await asyncio.gather(
        _check(request.app[QUEUE].ping), _check(request.app[STORE].ping)
    )
    try:
        connectors = request.app[PLUGINS].connectors()
        connector_check = "ok" if connectors else "failed: no connector is installed and enabled"
    except Exception as exc:
        connector_check = f"failed: {type(exc).__name__}"
    checks = {"queue": queue_check, "store": store_check, "connectors": connector_check}
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        log.warning("relay_not_ready", **checks)
    report = Readiness(status="ready" if ready else "not ready", checks=checks)
    return web.json_response(report.model_dump(), status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(generate_latest)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_ops_routes(app: web.Application, operations: list[OperationDoc]) -> None:
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/readyz", readyz, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    operations += [
        OperationDoc(
            "GET", "/healthz", "Liveness: the process answers", ("ops",), False, response_model=Health
        ),
        OperationDoc(
            "GET",
            "/readyz",
            "Readiness: queue and store answer and a connector is installed",
            ("ops",),
            False,
            response_model=Readiness,
            extra_responses={
                503: {
                    "description": "Not ready; `checks` says which check failed",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}},
                }
            },
        ),
        OperationDoc(
            "GET",
            "/metrics",
            "Prometheus metrics",
            ("ops",),
            False,
            response_content_type="text/plain",
            response_schema={"type": "string"},
        ),
    ]
