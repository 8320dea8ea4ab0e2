"""REST routes of the seeds for the AWS flows, served by the relay (bearer auth, problem+json, OpenAPI).

``POST /submit-opportunity`` queues the submission (it waits on an AWS task) and answers 202 at once;
the solution routes read the cached ``ListSolutions`` answer.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.events import Event, ObjectRef
from cosync_worker.hooks import Context, RouteSpec, request_body
from cosync_worker.relay.problems import ProblemError

from .solutions import SolutionCache

__all__ = [
    "ASSIGN_EVENT",
    "SUBMIT_EVENT",
    "AssignIn",
    "SolutionOut",
    "SolutionsOut",
    "SubmitIn",
    "SubmitQueued",
    "build_routes",
]

SUBMIT_EVENT = "aws.submit_opportunity"
ASSIGN_EVENT = "aws.assign_opportunity"


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")
    owner_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot owner id")


class SubmitQueued(BaseModel):
    deal_id: str
    status: str = "queued"


class SolutionOut(BaseModel):
    id: str
    name: str
    category: str
    status: str


class SolutionsOut(BaseModel):
    results: list[SolutionOut]
    count: int


def _out(s: dict[str, Any]) -> SolutionOut:
    return SolutionOut(
        id=str(s.get("Id")),
        name=str(s.get("Name")),
        category=str(s.get("Category")),
        status=str(s.get("Status")),
    )


def api_event(kind: str, deal_id: str, **payload: str) -> Event:
    ref = ObjectRef(system="hubspot", type="deal", id=deal_id)
    extra = ":".join(payload.values())
    return Event(
        id=str(uuid.uuid4()),
        source="api",
        type=kind,
        object=ref,
        ordering_key=ref.key,
        # A double click within the same minute is one request.
        dedupe_key=f"{kind}:{deal_id}:{extra}:{int(time.time() // 60)}"[:128],
        payload={"deal_id": deal_id, **payload},
    )


def build_routes(context: Context, cache_of: Any) -> list[RouteSpec]:
    """``cache_of()`` returns the process's :class:`SolutionCache` (created at start-up)."""

    def cache() -> SolutionCache:
        found: SolutionCache | None = cache_of()
        if found is None:
            raise ProblemError(503, "the aws connector has not started")
        return found

    async def submit(request: web.Request) -> web.Response:
        body = request_body(request, SubmitIn)
        await context.enqueue([api_event(SUBMIT_EVENT, body.deal_id)])
        return web.json_response(SubmitQueued(deal_id=body.deal_id).model_dump(), status=202)

    async def assign(request: web.Request) -> web.Response:
        body = request_body(request, AssignIn)
        await context.enqueue([api_event(ASSIGN_EVENT, body.deal_id, owner_id=body.owner_id)])
        return web.json_response(SubmitQueued(deal_id=body.deal_id).model_dump(), status=202)

    async def list_solutions(request: web.Request) -> web.Response:
        items = await cache().all()
        category, status = request.query.get("category"), request.query.get("status")
        if category:
            items = [s for s in items if str(s.get("Category", "")).lower() == category.lower()]
        if status:
            items = [s for s in items if str(s.get("Status", "")).lower() == status.lower()]
        out = [_out(s) for s in items]
        return web.json_response(SolutionsOut(results=out, count=len(out)).model_dump())

    async def search_solutions(request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip().lower()
        if not q:
            raise ProblemError(400, "query parameter q is required", kind="invalid-request")
        out = [_out(s) for s in await cache().all() if q in str(s.get("Name", "")).lower()]
        return web.json_response(SolutionsOut(results=out, count=len(out)).model_dump())

    async def get_solution(request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        found = await cache().get(ident)
        if found is None:
            raise ProblemError(404, f"solution {ident!r} not found", kind="not-found")
        return web.json_response(_out(found).model_dump())

    return [
        RouteSpec(
            "POST",
            "/submit-opportunity",
            submit,
            summary="Submit a deal's AWS opportunity for review (queued)",
            body_model=SubmitIn,
            response_model=SubmitQueued,
            tags=("aws",),
        ),
        RouteSpec(
            "POST",
            "/assign-opportunity",
            assign,
            summary="Assign a deal's AWS opportunity to a HubSpot owner (queued)",
            body_model=AssignIn,
            response_model=SubmitQueued,
            tags=("aws",),
        ),
        RouteSpec(
            "GET",
            "/solutions",
            list_solutions,
            summary="Partner solutions (filter: category, status)",
            response_model=SolutionsOut,
            tags=("aws",),
        ),
        RouteSpec(
            "GET",
            "/solutions/search",
            search_solutions,
            summary="Solutions whose name contains q",
            response_model=SolutionsOut,
            tags=("aws",),
        ),
        RouteSpec(
            "GET",
            "/solutions/{id}",
            get_solution,
            summary="One solution",
            response_model=SolutionOut,
            tags=("aws",),
        ),
    ]
