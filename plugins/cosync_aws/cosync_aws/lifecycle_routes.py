"""REST routes of seed 002 §2-§4 after an opportunity is shared: its engagement, its team, its resources.

``GET /engagements/{opportunityId}`` and ``GET /resources/{opportunityId}`` answer what the flows last synced
(no Partner Central call: a person reading them never spends the read budget nor waits on a throttle). A
resource that breaks a rule of ``resource_validation`` is refused with 422 naming the rule; nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.connector import Connector, request_body, route
from cosync_worker.errors import FieldError, ProblemError

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
    "CONNECTOR_SERVICE",
    "EngagementOut",
    "LifecycleRoutes",
    "ResourceLinkIn",
    "ResourcesOut",
    "TeamAddIn",
    "TeamRemoveIn",
    "UploadIn",
    "opportunity_id",
]

# botocore's model, shape ``OpportunityIdentifier``.
_OPPORTUNITY = re.compile(r"^O[0-9]{1,19}$")
CONNECTOR_SERVICE = "aws.connector"  # the running connector, registered as a service at start-up
F = TypeVar("F", bound=Callable[..., Any])


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


def _refused(exc: PartnerCentralError) -> ProblemError:
    return ProblemError(502, f"Partner Central refused {exc.operation}: {exc.code}", kind="bad-gateway")


class _Answers(NamedTuple):
    """What every route of one family answers: its model, and the errors of its contract."""

    model: type[BaseModel]
    statuses: tuple[int, ...]
    words: dict[int, str]


_TEAM = _Answers(
    TeamAnswer,
    (409, 502, 503),
    {
        409: "The deal has no AWS opportunity yet",
        502: "Partner Central refused the assignment",
        503: "The connector has not started",
    },
)
_RESOURCE = _Answers(
    ResourceAnswer,
    (404, 409, 502, 503),
    {
        404: "No resource with this id was recorded",
        409: "The deal has no AWS opportunity yet",
        422: "The body breaks a schema or resource rule (https, public host, type, file type, size)",
        502: "Partner Central refused the snapshot",
        503: "The connector has not started",
    },
)


def _change(
    answers: _Answers, method: Literal["POST", "DELETE"], path: str, summary: str, body: type[BaseModel]
) -> Callable[[F], F]:
    """``@route`` of a route that changes a deal's opportunity (a body, and its family's answers)."""
    return route(
        method,
        path,
        summary=summary,
        body_model=body,
        response_model=answers.model,
        tags=("aws",),
        error_statuses=answers.statuses,
        error_descriptions=answers.words,
    )


class LifecycleRoutes(Connector):
    """The engagement, team and resource routes of the ``aws`` connector (``AwsConnector`` inherits them)."""

    def _started_deps(self) -> Deps:
        # The connector registers itself as this service once it started (in a process that runs it).
        connector = self.context.services.get(CONNECTOR_SERVICE)
        if connector is None:
            raise ProblemError(503, "the aws connector has not started", headers={"Retry-After": "5"})
        deps: Deps = connector.deps()
        return deps

    async def _deps_and_opportunity(self, deal_id: str) -> tuple[Deps, str]:
        deps = self._started_deps()
        opp_id = (await deps.deals.read(deal_id)).value.opportunity_id
        if not opp_id:
            raise ProblemError(409, "the deal has no AWS opportunity yet", kind="conflict")
        return deps, opp_id

    async def _team(self, deal_id: str, email: str, role: str | None, add: bool) -> web.Response:
        deps, opp_id = await self._deps_and_opportunity(deal_id)
        try:
            answer = await change_team(deps, deal_id, opp_id, email, role, add=add)
        except PartnerCentralError as exc:
            raise _refused(exc) from None
        return web.json_response(answer.model_dump())

    @_change(
        _TEAM,
        "POST",
        "/opportunity-team/add",
        "Add a member to a deal's opportunity team (the answer says what reached AWS)",
        TeamAddIn,
    )
    async def team_add(self, request: web.Request) -> web.Response:
        body = request_body(request, TeamAddIn)
        return await self._team(body.dealId, body.memberEmail, body.role, True)

    @_change(
        _TEAM,
        "POST",
        "/opportunity-team/remove",
        "Remove a member from a deal's opportunity team",
        TeamRemoveIn,
    )
    async def team_remove(self, request: web.Request) -> web.Response:
        body = request_body(request, TeamRemoveIn)
        return await self._team(body.dealId, body.memberEmail, None, False)

    @_change(
        _RESOURCE,
        "POST",
        "/resources/upload",
        "Record a partner resource on a deal (the answer says what reached AWS)",
        UploadIn,
    )
    async def resources_upload(self, request: web.Request) -> web.Response:
        body = request_body(request, UploadIn)
        deps, opp_id = await self._deps_and_opportunity(body.dealId)
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
            raise _refused(exc) from None
        return web.json_response(answer.model_dump())

    async def _resource_link(self, request: web.Request, attach: bool) -> web.Response:
        body = request_body(request, ResourceLinkIn)
        deps, opp_id = await self._deps_and_opportunity(body.dealId)
        try:
            if attach:
                answer = await associate(deps, body.dealId, opp_id, body.resourceId)
            else:
                answer = await disassociate(deps, body.dealId, body.resourceId)
        except UnknownResource:
            raise ProblemError(404, "no resource with this id was recorded", kind="not-found") from None
        except PartnerCentralError as exc:
            raise _refused(exc) from None
        return web.json_response(answer.model_dump())

    @_change(
        _RESOURCE,
        "POST",
        "/resources/associate",
        "Attach a recorded resource (partner or AWS) to a deal",
        ResourceLinkIn,
    )
    async def resources_associate(self, request: web.Request) -> web.Response:
        return await self._resource_link(request, True)

    @_change(
        _RESOURCE,
        "DELETE",
        "/resources/disassociate",
        "Take a resource off a deal (what was shared with AWS stays shared)",
        ResourceLinkIn,
    )
    async def resources_disassociate(self, request: web.Request) -> web.Response:
        return await self._resource_link(request, False)

    @route(
        "GET",
        "/resources/{opportunityId}",
        summary="The resources of an opportunity's deal, partner and AWS (the seed's source field)",
        response_model=ResourcesOut,
        tags=("aws",),
        error_statuses=(400, 404, 503),
        error_descriptions={404: "No deal of this opportunity is known"},
    )
    async def resources_list(self, request: web.Request) -> web.Response:
        opp_id = opportunity_id(request)
        deps = self._started_deps()
        deal_id = await deal_for(deps, opp_id)
        if deal_id is None:
            raise ProblemError(404, "no deal of this opportunity is known", kind="not-found")
        state = (await resources_state(self.context.store).read(deal_id)).value
        out = ResourcesOut(opportunityId=opp_id, dealId=deal_id, resources=state.resources)
        return web.json_response(out.model_dump())

    @route(
        "GET",
        "/engagements/{opportunityId}",
        summary="The engagement lifecycle of an opportunity, as last synced",
        response_model=EngagementOut,
        tags=("aws",),
        error_statuses=(404,),
        error_descriptions={404: "No engagement has been synced for this opportunity"},
    )
    async def get_engagement(self, request: web.Request) -> web.Response:
        opp_id = opportunity_id(request)
        state = (await lifecycle_state(self.context.store).read(opp_id)).value
        if state.engagement is None:
            raise ProblemError(404, "no engagement has been synced for this opportunity", kind="not-found")
        out = EngagementOut(
            opportunityId=opp_id, dealId=state.deal_id, engagement=state.engagement, lastSync=state.synced_at
        )
        return web.json_response(out.model_dump())
