"""REST routes of seed 002 §2-§4 after an opportunity is shared: its engagement, its team, its resources.

``GET /engagements/{opportunityId}`` answers what the engagement flow last synced (no Partner Central call: a
person reading it never spends the read budget nor waits on a throttle).
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.errors import ProblemError
from cosync_worker.hooks import Context, RouteSpec, request_body

from .client import PartnerCentralError
from .deps import Deps
from .engagement_mapping import EngagementView
from .engagements import lifecycle_state
from .team import TeamAnswer, change_team

__all__ = ["EngagementOut", "TeamAddIn", "TeamRemoveIn", "build_lifecycle_routes", "opportunity_id"]

# botocore's model, shape ``OpportunityIdentifier``.
_OPPORTUNITY = re.compile(r"^O[0-9]{1,19}$")


class EngagementOut(BaseModel):
    opportunityId: str  # the seed's names
    dealId: str | None
    engagement: EngagementView
    lastSync: str


class TeamRemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dealId: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")
    memberEmail: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TeamAddIn(TeamRemoveIn):
    role: str = Field(min_length=1, max_length=100, description="e.g. Technical Lead, Primary Contact")


def opportunity_id(request: web.Request) -> str:
    ident = request.match_info["opportunityId"]
    if not _OPPORTUNITY.match(ident):
        # The value is not quoted back: path parameters are the caller's bytes (docs/relay.md).
        raise ProblemError(400, "opportunityId must be a Partner Central opportunity id (O and digits)")
    return ident


def build_lifecycle_routes(context: Context) -> list[RouteSpec]:
    async def get_engagement(request: web.Request) -> web.Response:
        opp_id = opportunity_id(request)
        state = (await lifecycle_state(context.store).read(opp_id)).value
        if state.engagement is None:
            raise ProblemError(404, "no engagement has been synced for this opportunity", kind="not-found")
        out = EngagementOut(
            opportunityId=opp_id, dealId=state.deal_id, engagement=state.engagement, lastSync=state.synced_at
        )
        return web.json_response(out.model_dump())

    async def deps_and_opportunity(deal_id: str) -> tuple[Deps, str]:
        connector = context.services.get("aws.connector")
        if connector is None:
            raise ProblemError(503, "the aws connector has not started", headers={"Retry-After": "5"})
        deps: Deps = connector.deps()
        opp_id = (await deps.deals.read(deal_id)).value.opportunity_id
        if not opp_id:
            raise ProblemError(409, "the deal has no AWS opportunity yet", kind="conflict")
        return deps, opp_id

    async def team(deal_id: str, email: str, role: str | None, add: bool) -> web.Response:
        deps, opp_id = await deps_and_opportunity(deal_id)
        try:
            answer = await change_team(deps, deal_id, opp_id, email, role, add=add)
        except PartnerCentralError as exc:
            raise ProblemError(
                502, f"Partner Central refused {exc.operation}: {exc.code}", kind="bad-gateway"
            ) from None
        return web.json_response(answer.model_dump())

    async def team_add(request: web.Request) -> web.Response:
        body = request_body(request, TeamAddIn)
        return await team(body.dealId, body.memberEmail, body.role, True)

    async def team_remove(request: web.Request) -> web.Response:
        body = request_body(request, TeamRemoveIn)
        return await team(body.dealId, body.memberEmail, None, False)

    team_errors = (409, 502, 503)
    team_words = {
        409: "The deal has no AWS opportunity yet",
        502: "Partner Central refused the assignment",
        503: "The connector has not started",
    }
    return [
        RouteSpec(
            "POST",
            "/opportunity-team/add",
            team_add,
            summary="Add a member to a deal's opportunity team (the answer says what reached AWS)",
            body_model=TeamAddIn,
            response_model=TeamAnswer,
            tags=("aws",),
            error_statuses=team_errors,
            error_descriptions=team_words,
        ),
        RouteSpec(
            "POST",
            "/opportunity-team/remove",
            team_remove,
            summary="Remove a member from a deal's opportunity team",
            body_model=TeamRemoveIn,
            response_model=TeamAnswer,
            tags=("aws",),
            error_statuses=team_errors,
            error_descriptions=team_words,
        ),
        RouteSpec(
            "GET",
            "/engagements/{opportunityId}",
            get_engagement,
            summary="The engagement lifecycle of an opportunity, as last synced",
            response_model=EngagementOut,
            tags=("aws",),
            error_statuses=(404,),
            error_descriptions={404: "No engagement has been synced for this opportunity"},
        ),
    ]
