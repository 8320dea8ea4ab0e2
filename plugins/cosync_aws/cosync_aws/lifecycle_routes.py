"""REST routes of seed 002 §2-§4 after an opportunity is shared: its engagement, its team, its resources.

``GET /engagements/{opportunityId}`` answers what the engagement flow last synced (no Partner Central call: a
person reading it never spends the read budget nor waits on a throttle).
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel

from cosync_worker.errors import ProblemError
from cosync_worker.hooks import Context, RouteSpec

from .engagement_mapping import EngagementView
from .engagements import lifecycle_state

__all__ = ["EngagementOut", "build_lifecycle_routes", "opportunity_id"]

# botocore's model, shape ``OpportunityIdentifier``.
_OPPORTUNITY = re.compile(r"^O[0-9]{1,19}$")


class EngagementOut(BaseModel):
    opportunityId: str  # the seed's names
    dealId: str | None
    engagement: EngagementView
    lastSync: str


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

    return [
        RouteSpec(
            "GET",
            "/engagements/{opportunityId}",
            get_engagement,
            summary="The engagement lifecycle of an opportunity, as last synced",
            response_model=EngagementOut,
            tags=("aws",),
            error_statuses=(404,),
            error_descriptions={404: "No engagement has been synced for this opportunity"},
        )
    ]
