"""Seed 001's solution management API: ``GET /solutions``, ``GET /solutions/search``, ``GET /solutions/{id}``.

They read the cached ``ListSolutions`` answer, waiting at most ``SOLUTIONS_DEADLINE_SECONDS`` for Partner
Central to fill it (then 503, or 502 for an error answer, with ``Retry-After``). Pages are cut from that one
list, so ``nextToken`` is where the next page starts in it; a search is ranked by the matcher that chooses
an opportunity's solutions (:func:`~.solutions.score_solution`), the query standing for the deal's use case and
text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.connector import Connector, request_query, route
from cosync_worker.errors import FieldError, ProblemError, Retry

from .client import PartnerCentralError
from .solutions import SolutionCache, score_solution

__all__ = [
    "SOLUTIONS_DEADLINE_SECONDS",
    "SOLUTIONS_SERVICE",
    "SearchQuery",
    "SolutionDetail",
    "SolutionOut",
    "SolutionRoutes",
    "SolutionsOut",
    "SolutionsQuery",
]

# A person is waiting: the client's retries against a failing Partner Central take 6-10 s, so the route
# answers after this long and the listing goes on in the background, filling the cache for the next caller.
SOLUTIONS_DEADLINE_SECONDS = 2.0
SOLUTIONS_SERVICE = "aws.solutions"  # the process's SolutionCache, registered by the connector at start-up
F = TypeVar("F", bound=Callable[..., Any])
_RETRY_AFTER = {"Retry-After": "5"}
# What a solution route answers while Partner Central cannot fill the cache (both with ``Retry-After``).
_UPSTREAM = (502, 503)
_UPSTREAM_WORDS = {
    502: "Partner Central answered with an error; retry after Retry-After seconds",
    503: "The connector has not started, or Partner Central is slow, throttling or unreachable; retry later",
}


class SolutionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str | None = Field(None, max_length=200, description="only this category (any case)")
    status: str = Field("Active", max_length=200, description="only this status (any case; default Active)")
    limit: int = Field(100, ge=1, le=100, description="solutions per page")
    nextToken: str | None = Field(
        None,
        pattern=r"^[0-9]{1,9}$",
        description="the previous page's nextToken (where the next page starts)",
    )


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field(min_length=1, max_length=200, description="words to look for (name, category)")
    category: str | None = Field(None, max_length=200, description="only this category (any case)")
    limit: int = Field(50, ge=1, le=100, description="at most this many, best first")


class SolutionOut(BaseModel):
    id: str
    name: str
    category: str
    status: str


class RankedSolution(SolutionOut):
    relevanceScore: int


class SolutionsOut(BaseModel):
    solutions: list[SolutionOut]
    count: int
    nextToken: str | None = None


class SearchOut(BaseModel):
    solutions: list[RankedSolution]
    count: int
    query: str


class SolutionDetail(SolutionOut):
    """Every field ``ListSolutions`` gives (botocore's ``SolutionBase``); Partner Central keeps no description
    of a solution, so ``description`` is null unless AWS starts sending one."""

    arn: str | None = None
    catalog: str | None = None
    createdDate: str | None = None
    awsMarketplaceSolutionArn: str | None = None
    description: str | None = None


def _out(s: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(s.get("Id")),
        "name": str(s.get("Name")),
        "category": str(s.get("Category")),
        "status": str(s.get("Status")),
    }


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return None if value is None else str(value)


def _detail(s: dict[str, Any]) -> SolutionDetail:
    return SolutionDetail(
        **_out(s),
        arn=s.get("Arn"),
        catalog=s.get("Catalog"),
        createdDate=_date(s.get("CreatedDate")),
        awsMarketplaceSolutionArn=s.get("AwsMarketplaceSolutionArn"),
        description=s.get("Description"),
    )


def _same(a: Any, b: str | None) -> bool:
    return b is None or str(a or "").lower() == b.lower()


def _cached(
    path: str,
    summary: str,
    response: type[BaseModel],
    query: type[BaseModel] | None = None,
    *,
    not_found: str | None = None,
) -> Callable[[F], F]:
    """``@route`` of a GET answered from the cached ``ListSolutions``, so with its upstream errors (and a 404
    if worded)."""
    missing = {404: not_found} if not_found else {}
    return route(
        "GET",
        path,
        summary=summary,
        response_model=response,
        tags=("aws",),
        query_model=query,
        error_statuses=(*missing, *_UPSTREAM),
        error_descriptions={**missing, **_UPSTREAM_WORDS},
    )


class SolutionRoutes(Connector):
    """The solution routes of the ``aws`` connector (``AwsConnector`` inherits them); they read the process's
    :class:`~.solutions.SolutionCache`, the service ``aws.solutions`` the connector registers at start-up."""

    _solutions_fill: asyncio.Task[list[dict[str, Any]]] | None = None

    def _solution_cache(self) -> SolutionCache:
        found: SolutionCache | None = self.context.services.get(SOLUTIONS_SERVICE)
        if found is None:
            raise ProblemError(503, "the aws connector has not started")
        return found

    async def _solutions(self) -> list[dict[str, Any]]:
        fill = self._solutions_fill
        if fill is None or fill.done():
            fill = self._solutions_fill = asyncio.create_task(self._solution_cache().all())
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

    @_cached(
        "/solutions",
        "Partner solutions, a page at a time (filter: category, status; default Active)",
        SolutionsOut,
        SolutionsQuery,
    )
    async def list_solutions(self, request: web.Request) -> web.Response:
        query = request_query(request, SolutionsQuery)
        start = int(query.nextToken or 0)
        items = [
            s
            for s in await self._solutions()
            if _same(s.get("Category"), query.category) and _same(s.get("Status"), query.status)
        ]
        page = items[start : start + query.limit]
        more = start + query.limit < len(items)
        out = SolutionsOut(
            solutions=[SolutionOut(**_out(s)) for s in page],
            count=len(page),
            nextToken=str(start + query.limit) if more else None,
        )
        return web.json_response(out.model_dump())

    @_cached(
        "/solutions/search",
        "Solutions ranked for the words q (relevanceScore from the solution matcher)",
        SearchOut,
        SearchQuery,
    )
    async def search_solutions(self, request: web.Request) -> web.Response:
        query = request_query(request, SearchQuery)
        q = query.q.strip()
        if not q:
            raise ProblemError(
                400,
                "the query string does not match its schema",
                kind="invalid-request",
                errors=[FieldError(field="query.q", message="must not be blank")],
            )
        # The query is the deal's use case and text to the matcher; a name that holds it counts too.
        as_deal = {"aws_use_case": q, "description": q}
        ranked = []
        for s in await self._solutions():
            if not _same(s.get("Category"), query.category):
                continue
            score = score_solution(s, as_deal, None) + (
                10 if q.lower() in str(s.get("Name", "")).lower() else 0
            )
            if score > 0:
                ranked.append(RankedSolution(**_out(s), relevanceScore=score))
        ranked.sort(key=lambda r: (-r.relevanceScore, r.name))
        best = ranked[: query.limit]
        return web.json_response(SearchOut(solutions=best, count=len(best), query=q).model_dump())

    @_cached(
        "/solutions/{id}",
        "One solution, with every field ListSolutions gives",
        SolutionDetail,
        not_found="No solution has this id",
    )
    async def get_solution(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        found = next((s for s in await self._solutions() if s.get("Id") == ident), None)
        if found is None:
            # The id is not quoted back: path parameters are the caller's bytes (docs/relay.md).
            raise ProblemError(404, "no solution has this id", kind="not-found")
        return web.json_response(_detail(found).model_dump())
