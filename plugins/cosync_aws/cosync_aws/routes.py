"""REST routes of the seeds for the AWS flows, served by the relay (bearer auth, problem+json, OpenAPI).

``POST /submit-opportunity`` queues the submission (it waits on an AWS task) and answers 202 at once;
the solution routes read the cached ``ListSolutions`` answer, waiting at most ``SOLUTIONS_DEADLINE_SECONDS``
for Partner Central to fill it (then 503, or 502 for an error answer, with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.errors import ProblemError, Retry
from cosync_worker.events import Event, ObjectRef
from cosync_worker.hooks import Context, RouteSpec, request_body, request_query

from .client import PartnerCentralError
from .solutions import SolutionCache

__all__ = [
    "ASSIGN_EVENT",
    "SOLUTIONS_DEADLINE_SECONDS",
    "SUBMIT_EVENT",
    "AssignIn",
    "SearchQuery",
    "SolutionOut",
    "SolutionsOut",
    "SolutionsQuery",
    "SubmitIn",
    "SubmitQueued",
    "build_routes",
]

SUBMIT_EVENT = "aws.submit_opportunity"
ASSIGN_EVENT = "aws.assign_opportunity"
# A person is waiting: the client's retries against a failing Partner Central take 6-10 s, so the route
# answers after this long and the listing goes on in the background, filling the cache for the next caller.
SOLUTIONS_DEADLINE_SECONDS = 2.0
_RETRY_AFTER = {"Retry-After": "5"}
# What a solution route answers while Partner Central cannot fill the cache (both with ``Retry-After``).
_UPSTREAM = (502, 503)
_UPSTREAM_WORDS = {
    502: "Partner Central answered with an error; retry after Retry-After seconds",
    503: "The connector has not started, or Partner Central is slow, throttling or unreachable; retry later",
}


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")
    owner_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot owner id")


class SolutionsQuery(BaseModel):
    category: str | None = Field(None, max_length=200, description="only this category (any case)")
    status: str | None = Field(None, max_length=200, description="only this status (any case)")


class SearchQuery(BaseModel):
    q: str = Field(min_length=1, max_length=200, description="words the solution's name contains (any case)")


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

    fill: asyncio.Task[list[dict[str, Any]]] | None = None

    async def solutions() -> list[dict[str, Any]]:
        nonlocal fill
        if fill is None or fill.done():
            fill = asyncio.create_task(cache().all())
            # Nobody may await a fill that outlives its callers' deadline: its outcome is collected here.
            fill.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            return await asyncio.wait_for(asyncio.shield(fill), SOLUTIONS_DEADLINE_SECONDS)
        except TimeoutError:
            raise ProblemError(
                503, "Partner Central did not answer in time; retry later", headers=_RETRY_AFTER
            ) from None
        except PartnerCentralError:
            raise ProblemError(
                502,
                "Partner Central answered ListSolutions with an error; retry later",
                kind="bad-gateway",
                headers=_RETRY_AFTER,
            ) from None
        except Retry:
            # The client's attempts ran out: throttled, failing with 5xx, or unreachable.
            raise ProblemError(
                503,
                "Partner Central is throttling, failing or unreachable; retry later",
                headers=_RETRY_AFTER,
            ) from None

    async def submit(request: web.Request) -> web.Response:
        body = request_body(request, SubmitIn)
        await context.enqueue([api_event(SUBMIT_EVENT, body.deal_id)])
        return web.json_response(SubmitQueued(deal_id=body.deal_id).model_dump(), status=202)

    async def assign(request: web.Request) -> web.Response:
        body = request_body(request, AssignIn)
        await context.enqueue([api_event(ASSIGN_EVENT, body.deal_id, owner_id=body.owner_id)])
        return web.json_response(SubmitQueued(deal_id=body.deal_id).model_dump(), status=202)

    async def list_solutions(request: web.Request) -> web.Response:
        query = request_query(request, SolutionsQuery)
        items = await solutions()
        category, status = query.category, query.status
        if category:
            items = [s for s in items if str(s.get("Category", "")).lower() == category.lower()]
        if status:
            items = [s for s in items if str(s.get("Status", "")).lower() == status.lower()]
        out = [_out(s) for s in items]
        return web.json_response(SolutionsOut(results=out, count=len(out)).model_dump())

    async def search_solutions(request: web.Request) -> web.Response:
        q = request_query(request, SearchQuery).q.strip().lower()
        if not q:
            raise ProblemError(400, "query parameter q is required", kind="invalid-request")
        out = [_out(s) for s in await solutions() if q in str(s.get("Name", "")).lower()]
        return web.json_response(SolutionsOut(results=out, count=len(out)).model_dump())

    async def get_solution(request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        found = next((s for s in await solutions() if s.get("Id") == ident), None)
        if found is None:
            # The id is not quoted back: path parameters are the caller's bytes (docs/relay.md).
            raise ProblemError(404, "no solution has this id", kind="not-found")
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
            query_model=SolutionsQuery,
            error_statuses=_UPSTREAM,
            error_descriptions=_UPSTREAM_WORDS,
        ),
        RouteSpec(
            "GET",
            "/solutions/search",
            search_solutions,
            summary="Solutions whose name contains q",
            response_model=SolutionsOut,
            tags=("aws",),
            query_model=SearchQuery,
            error_statuses=_UPSTREAM,
            error_descriptions=_UPSTREAM_WORDS,
        ),
        RouteSpec(
            "GET",
            "/solutions/{id}",
            get_solution,
            summary="One solution",
            response_model=SolutionOut,
            tags=("aws",),
            error_statuses=(404, *_UPSTREAM),
            error_descriptions={404: "No solution has this id", **_UPSTREAM_WORDS},
        ),
    ]
