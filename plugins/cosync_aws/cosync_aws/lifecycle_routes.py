"""REST routes of seed 002 §2-§4 after an opportunity is shared: its engagement, its team, its resources.

``GET /engagements/{opportunityId}`` and ``GET /resources/{opportunityId}`` answer what the flows last synced
(no Partner Central call: a person reading them never spends the read budget nor waits on a throttle). A
resource that breaks a rule of ``resource_validation`` is refused with 422 naming the rule; nothing is recorded.
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.errors import FieldError, ProblemError
from cosync_worker.hooks import Context, RouteSpec, request_body

from .client import PartnerCentralError
from .deps import Deps
from .engagement_mapping import EngagementView
from .engagements import lifecycle_state
from .hubspot_side import deal_for
from .resource_mapping import Resource
from .resource_validation import Refusal, check_resource
from .resources import ResourceAnswer, UnknownResource, associate, disassociate, resources_state, upload
from .team import TeamAnswer, change_team

__all__ = [
    "EngagementOut",
    "ResourceLinkIn",
    "ResourcesOut",
    "TeamAddIn",
    "TeamRemoveIn",
    "UploadIn",
    "build_lifecycle_routes",
    "opportunity_id",
]

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


_DEAL = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", description="HubSpot deal id")


class UploadIn(BaseModel):
    """Seed 002 §4's body, plus the size the caller declares (cosync never fetches the URL)."""

    model_config = ConfigDict(extra="forbid")
    dealId: str = _DEAL
    resourceType: str = Field(min_length=1, max_length=40, description="one of the seed's nine types")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=2000)
    url: str = Field(min_length=1, max_length=2048, description="https, public host, allowed file type")
    tags: list[str] = Field(default_factory=list, max_length=20)
    sizeBytes: int | None = Field(None, ge=0, description="checked against resources.max_bytes")


class ResourceLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dealId: str = _DEAL
    resourceId: str = Field(
        pattern=r"^res-[0-9a-f]{12}$", description="an id from GET /resources/{opportunityId}"
    )


class ResourcesOut(BaseModel):
    opportunityId: str
    dealId: str
    resources: list[Resource]


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

    def bad_gateway(exc: PartnerCentralError) -> ProblemError:
        return ProblemError(502, f"Partner Central refused {exc.operation}: {exc.code}", kind="bad-gateway")

    async def resources_upload(request: web.Request) -> web.Response:
        body = request_body(request, UploadIn)
        deps, opp_id = await deps_and_opportunity(body.dealId)
        rules = deps.config.resources
        try:
            kind = check_resource(
                body.resourceType, body.url, body.sizeBytes, rules.allowed_file_types, rules.max_bytes
            )
        except Refusal as refusal:
            # The rule is named, the value is not echoed (a URL may hold what the rule refuses).
            raise ProblemError(
                422,
                f"resource refused: {refusal}",
                kind="validation-error",
                errors=[FieldError(field=refusal.field, message=f"{refusal.message} (rule: {refusal.rule})")],
            ) from None
        try:
            answer = await upload(
                deps,
                body.dealId,
                opp_id,
                resource_type=body.resourceType,
                title=body.title,
                description=body.description,
                url=body.url,
                tags=body.tags,
                file_type=kind,
                size_bytes=body.sizeBytes,
            )
        except PartnerCentralError as exc:
            raise bad_gateway(exc) from None
        return web.json_response(answer.model_dump())

    async def resource_link(request: web.Request, attach: bool) -> web.Response:
        body = request_body(request, ResourceLinkIn)
        deps, opp_id = await deps_and_opportunity(body.dealId)
        try:
            if attach:
                answer = await associate(deps, body.dealId, opp_id, body.resourceId)
            else:
                answer = await disassociate(deps, body.dealId, body.resourceId)
        except UnknownResource:
            raise ProblemError(404, "no resource with this id was recorded", kind="not-found") from None
        except PartnerCentralError as exc:
            raise bad_gateway(exc) from None
        return web.json_response(answer.model_dump())

    async def resources_associate(request: web.Request) -> web.Response:
        return await resource_link(request, True)

    async def resources_disassociate(request: web.Request) -> web.Response:
        return await resource_link(request, False)

    async def resources_list(request: web.Request) -> web.Response:
        opp_id = opportunity_id(request)
        connector = context.services.get("aws.connector")
        if connector is None:
            raise ProblemError(503, "the aws connector has not started", headers={"Retry-After": "5"})
        deps: Deps = connector.deps()
        deal_id = await deal_for(deps, opp_id)
        if deal_id is None:
            raise ProblemError(404, "no deal of this opportunity is known", kind="not-found")
        state = (await resources_state(context.store).read(deal_id)).value
        out = ResourcesOut(opportunityId=opp_id, dealId=deal_id, resources=state.resources)
        return web.json_response(out.model_dump())

    resource_errors = (404, 409, 502, 503)
    resource_words = {
        404: "No resource with this id was recorded",
        409: "The deal has no AWS opportunity yet",
        422: "The body breaks a schema or resource rule (https, public host, type, file type, size)",
        502: "Partner Central refused the snapshot",
        503: "The connector has not started",
    }
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
            "POST",
            "/resources/upload",
            resources_upload,
            summary="Record a partner resource on a deal (the answer says what reached AWS)",
            body_model=UploadIn,
            response_model=ResourceAnswer,
            tags=("aws",),
            error_statuses=resource_errors,
            error_descriptions=resource_words,
        ),
        RouteSpec(
            "POST",
            "/resources/associate",
            resources_associate,
            summary="Attach a recorded resource (partner or AWS) to a deal",
            body_model=ResourceLinkIn,
            response_model=ResourceAnswer,
            tags=("aws",),
            error_statuses=resource_errors,
            error_descriptions=resource_words,
        ),
        RouteSpec(
            "DELETE",
            "/resources/disassociate",
            resources_disassociate,
            summary="Take a resource off a deal (what was shared with AWS stays shared)",
            body_model=ResourceLinkIn,
            response_model=ResourceAnswer,
            tags=("aws",),
            error_statuses=resource_errors,
            error_descriptions=resource_words,
        ),
        RouteSpec(
            "GET",
            "/resources/{opportunityId}",
            resources_list,
            summary="The resources of an opportunity's deal, partner and AWS (the seed's source field)",
            response_model=ResourcesOut,
            tags=("aws",),
            error_statuses=(400, 404, 503),
            error_descriptions={404: "No deal of this opportunity is known"},
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
