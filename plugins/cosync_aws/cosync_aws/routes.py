"""REST routes of the seeds for the AWS flows, served by the relay (bearer auth, problem+json, OpenAPI).

Bodies are the seeds' JSON as written (camelCase: seed 000 ``{"dealId", "involvementType", "visibility"}``,
seed 002 ``{"dealId", "assigneeEmail", "role"}``); the snake_case fields of earlier releases (``deal_id``,
``owner_id``) are accepted as aliases, and ``/openapi.json`` documents both. Both routes queue the work (it
waits on Partner Central's 1/s write budget, and a submission on an AWS task) and answer 202 with a job that
``GET /jobs/{id}`` follows to its outcome. Declared with the SDK's ``@route`` on :class:`JobRoutes`, which
``AwsConnector`` inherits; the solution routes are in :mod:`.solution_routes`, the engagement, team and
resource routes in :mod:`.lifecycle_routes`.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cosync_worker.connector import ACTOR_KEY, Connector, create_job, request_body, request_identity, route
from cosync_worker.errors import FieldError, ProblemError
from cosync_worker.events import Event

from .assignment import OWNER_TITLE
from .deal_events import deal_event

__all__ = [
    "ASSIGN_EVENT",
    "OWNER_TITLE",
    "SUBMIT_EVENT",
    "AssignIn",
    "JobQueued",
    "JobRoutes",
    "SubmitIn",
    "business_title",
]

SUBMIT_EVENT = "aws.submit_opportunity"
ASSIGN_EVENT = "aws.assign_opportunity"
# botocore's ``AssigneeContact.BusinessTitle``: "Use the value PartnerAccountManager to update details of the
# opportunity owner", which is what AssignOpportunity changes; the seed's "Primary Contact" is that owner.
_OWNER_ROLES = frozenset({"primary contact", "owner", "opportunity owner", "partneraccountmanager"})
_DEAL_ID = {"min_length": 1, "max_length": 32, "pattern": r"^[0-9]+$"}

Involvement = Literal["Co-Sell", "For Visibility Only"]
Visibility = Literal["Full", "Limited"]


def _one(body: BaseModel, name: str, alias: str) -> Any:
    """The value given as ``name`` or as its alias; both given and different is refused by name."""
    value, old = getattr(body, name), getattr(body, alias)
    if value is not None and old is not None and value != old:
        raise ValueError(f"{name} and its alias {alias} disagree; give one")
    return value if value is not None else old


class _DealBody(BaseModel):
    """A body naming its deal as ``dealId`` or, as earlier releases did, ``deal_id``."""

    model_config = ConfigDict(extra="forbid")
    dealId: str | None = Field(None, **_DEAL_ID, description="HubSpot deal id")  # type: ignore[call-overload]
    deal_id: str | None = Field(None, **_DEAL_ID, description="alias of dealId")  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _deal(self) -> Self:
        if _one(self, "dealId", "deal_id") is None:
            raise ValueError("dealId is required (or its alias deal_id)")
        return self

    @property
    def deal(self) -> str:
        return str(_one(self, "dealId", "deal_id"))


class SubmitIn(_DealBody):
    """Seed 000's body; ``involvementType``/``visibility`` override ``connectors.aws.submission`` for this call."""

    involvementType: Involvement | None = Field(None, description="default: the configured involvement type")
    visibility: Visibility | None = Field(None, description="default: the configured visibility")


class AssignIn(_DealBody):
    """Seed 002's body (``assigneeEmail``: a HubSpot owner's email), or the older ``owner_id`` (a HubSpot
    owner id). AWS's ``Assignee`` needs email, first and last name and business title: the names come from the
    HubSpot owner, the title from ``role``."""

    assigneeEmail: str | None = Field(
        None,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="the email of a HubSpot owner (who becomes the opportunity's partner owner)",
    )
    owner_id: str | None = Field(
        None, max_length=32, pattern=r"^[0-9]+$", description="instead of assigneeEmail"
    )
    role: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        description=f'"Primary Contact" (default) is AWS\'s {OWNER_TITLE}; another role is sent as the title',
    )

    @model_validator(mode="after")
    def _who(self) -> AssignIn:
        if (self.assigneeEmail is None) == (self.owner_id is None):
            raise ValueError("give exactly one of assigneeEmail and owner_id")
        return self


class JobQueued(BaseModel):
    """202: the work is queued; ``location`` (``GET /jobs/{id}``) says when it is done and how it went."""

    jobId: str
    job_id: str = Field(description="alias of jobId")
    status: str = "pending"
    location: str
    dealId: str


def business_title(role: str | None) -> str:
    """Pure: the ``Assignee.BusinessTitle`` for the seed's ``role``."""
    if role is None or role.strip().lower() in _OWNER_ROLES:
        return OWNER_TITLE
    return role.strip()


def _job_event(kind: str, deal_id: str, job_id: str, payload: dict[str, Any]) -> Event:
    body = {"deal_id": deal_id, "job_id": job_id, **payload}
    return deal_event(kind, deal_id, f"{kind}:{job_id}", body, source="api")


def _unknown_assignee(field: str, why: str) -> ProblemError:
    return ProblemError(
        422,
        "the assignee is not a HubSpot owner",
        kind="validation-error",
        errors=[FieldError(field=field, message=why)],
    )


class JobRoutes(Connector):
    """The two routes that queue an API job for the ``aws`` connector (``AwsConnector`` inherits them)."""

    async def _queue_job(
        self, request: web.Request, kind: str, deal_id: str, payload: dict[str, Any]
    ) -> web.Response:
        payload = {**payload, ACTOR_KEY: request_identity(request).user}
        job_id = await create_job(self.context.store, kind, {"dealId": deal_id, **payload})
        await self.context.enqueue([_job_event(kind, deal_id, job_id, payload)])
        out = JobQueued(jobId=job_id, job_id=job_id, location=f"/jobs/{job_id}", dealId=deal_id)
        return web.json_response(out.model_dump(), status=202)

    @route(
        "POST",
        "/submit-opportunity",
        summary="Submit a deal's AWS opportunity for review (queued as a job)",
        body_model=SubmitIn,
        response_model=JobQueued,
        tags=("aws",),
    )
    async def submit_opportunity(self, request: web.Request) -> web.Response:
        body = request_body(request, SubmitIn)
        overrides = {
            "involvement_type": body.involvementType,
            "visibility": body.visibility,
        }
        return await self._queue_job(
            request, SUBMIT_EVENT, body.deal, {k: v for k, v in overrides.items() if v}
        )

    async def _owner_of(self, body: AssignIn) -> dict[str, Any]:
        hubspot = self.context.service("hubspot")
        if body.assigneeEmail is not None:
            found = await hubspot.owner_by_email(body.assigneeEmail)
            if found is None:
                raise _unknown_assignee(
                    "assigneeEmail",
                    "no HubSpot owner has this email; AssignOpportunity needs the assignee's first and last "
                    "name, which cosync takes from the HubSpot owner (add them as a HubSpot user first)",
                )
        else:
            found = await hubspot.owner(str(body.owner_id))
            if found is None:
                raise _unknown_assignee("owner_id", "no HubSpot owner has this id")
        if not found.get("email"):
            raise _unknown_assignee(
                "assigneeEmail" if body.assigneeEmail else "owner_id", "this HubSpot owner has no email"
            )
        owner: dict[str, Any] = found
        return owner

    @route(
        "POST",
        "/assign-opportunity",
        summary="Make a HubSpot owner the AWS opportunity's partner owner (queued as a job)",
        body_model=AssignIn,
        response_model=JobQueued,
        tags=("aws",),
        error_statuses=(422,),
        error_descriptions={422: "The body is malformed, or the assignee is not a HubSpot owner"},
    )
    async def assign_opportunity(self, request: web.Request) -> web.Response:
        body = request_body(request, AssignIn)
        owner = await self._owner_of(body)
        payload = {"owner_id": str(owner["id"]), "business_title": business_title(body.role)}
        return await self._queue_job(request, ASSIGN_EVENT, body.deal, payload)
