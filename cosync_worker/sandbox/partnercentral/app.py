"""The Partner Central Selling emulator: AWS JSON 1.0 on ``POST /`` plus the ``/_sandbox/`` operator API.

An unmodified boto3/aiobotocore ``partnercentral-selling`` client works against it with ``endpoint_url``
and any credentials: the request must be SigV4-signed in form (an ``Authorization`` header), but the
signature is not checked. Operations the emulator does not model answer a clear error, never a 500.

Operator API (not part of AWS):

* ``POST /_sandbox/invitations`` - an AWS referral arrives: ``{"catalog", "customer": {...}, "project":
  {...}}`` → ``{"invitation_id", "engagement_id"}`` and an ``Engagement Invitation Created`` event.
* ``POST /_sandbox/invitations/{id}/expire`` - the invitation expires (``Engagement Invitation Expired``).
* ``POST /_sandbox/opportunities/{id}`` - AWS changes what it owns (``ReviewStatus``, ``Stage``,
  ``EngagementScore``, ``NextSteps``, ``AwsSeller``, ``InvolvementType``, ...); emits matching events.
* ``GET /_sandbox/events`` - every EventBridge event emitted so far.
* ``GET /_sandbox/engagements``, ``POST /_sandbox/engagements/{id}/members``,
  ``POST /_sandbox/engagements/{id}/snapshots``, ``POST /_sandbox/engagements/{id}/context`` - act as AWS
  or another partner on an engagement; documented in :mod:`.operator`.

EventBridge detail-types published (source ``aws.partnercentral-selling``,
https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-partnercentral-selling.html), with ``detail``:

* ``Opportunity Created/Updated/Accepted/Rejected`` - ``opportunity.identifier``.
* ``Engagement Invitation Created/Accepted/Rejected/Expired`` - ``engagementInvitation.{id, arn,
  engagementId}``.
* ``Engagement Member Added`` (a member was added: AWS when an engagement starts from an opportunity, or
  the operator) and ``Engagement Member Joined`` (a partner accepted an invitation) -
  ``engagement.{id, arn, memberAccountId}``.
* ``Resource Snapshot Created`` - ``resourceSnapshot.{arn, revision, resourceType, resourceId,
  templateName}``, ``opportunity.identifier``, ``engagement.id``; with each one ``Engagement Resource
  Snapshot Created`` - ``engagement.{id, arn}``, ``resourceSnapshot``. Published by CreateResourceSnapshot,
  by every run of a Running snapshot job that finds the resource changed, and by the operator.

Engagement contexts (CreateEngagementContext, UpdateEngagementContext, the operator) publish no event, as in
AWS: read ``ModifiedAt`` with GetEngagement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..base import Emulator
from ..faults import Fault
from . import engagement_writes, engagements, operator, opportunities, snapshots
from .events import EventBus, EventSink
from .protocol import (
    TARGET_PREFIX,
    ApiError,
    error_response,
    parse_params,
    serialize,
    service_model,
    success_response,
)
from .state import CatalogState
from .throttle import QuotaBucket

__all__ = ["READ_OPERATIONS", "WRITE_OPERATIONS", "PartnerCentralEmulator"]

log = logging.getLogger(__name__)

Handler = Callable[["PartnerCentralEmulator", dict[str, Any]], Awaitable[dict[str, Any]]]
HANDLERS: dict[str, Handler] = {
    **opportunities.HANDLERS,
    **engagements.HANDLERS,
    **engagement_writes.HANDLERS,
    **snapshots.HANDLERS,
}

# https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html lists the write actions;
# the engagement, context, invitation, snapshot and snapshot-job writes and the tasks change state the same
# way, so they draw from the same 1 write/s.
WRITE_OPERATIONS = frozenset(
    {
        "CreateOpportunity",
        "UpdateOpportunity",
        "AssociateOpportunity",
        "DisassociateOpportunity",
        "AssignOpportunity",
        "AcceptEngagementInvitation",
        "RejectEngagementInvitation",
        "StartEngagementFromOpportunityTask",
        "StartEngagementByAcceptingInvitationTask",
        "SubmitOpportunity",
        "CreateResourceSnapshot",
        "CreateEngagement",
        "CreateEngagementContext",
        "UpdateEngagementContext",
        "CreateEngagementInvitation",
        "CreateResourceSnapshotJob",
        "StartResourceSnapshotJob",
        "StopResourceSnapshotJob",
        "DeleteResourceSnapshotJob",
        "StartOpportunityFromEngagementTask",
    }
)
READ_OPERATIONS = frozenset(HANDLERS) - WRITE_OPERATIONS
CATALOGS = ("AWS", "Sandbox")
AWS_STAGES = tuple(service_model().shape_for("AwsOpportunityStage").enum)
REVIEW_STATUSES = tuple(service_model().shape_for("ReviewStatus").enum)
OPERATOR_FIELDS = {
    "catalog",
    "ReviewStatus",
    "ReviewComments",
    "ReviewStatusReason",
    "Stage",
    "EngagementScore",
    "NextSteps",
    "NextBestActions",
    "AwsSeller",
    "InvolvementType",
    "Visibility",
}


class PartnerCentralEmulator(Emulator):
    """AWS Partner Central Selling API on loopback, with AWS's quotas, locking and lifecycle rules."""

    name = "partnercentral"

    def __init__(
        self,
        *,
        write_rate: float = 1.0,
        read_rate: float = 10.0,
        write_daily_cap: int = 10_000,
        read_daily_cap: int = 100_000,
        time_scale: float = 1.0,
        account_id: str = "123456789012",
        task_seconds: float = 0.5,
        event_sink: EventSink | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_id = account_id
        self.task_seconds = task_seconds
        self.writes = QuotaBucket(write_rate, write_daily_cap, time_scale)
        self.reads = QuotaBucket(read_rate, read_daily_cap, time_scale)
        self.bus = EventBus(account_id, event_sink)
        self._catalogs: dict[str, CatalogState] = {}
        self._background: set[asyncio.Task[None]] = set()
        super().__init__(host=host, port=port)

    # -- public -------------------------------------------------------------------------------------
    @property
    def events(self) -> list[dict[str, Any]]:
        return self.bus.events

    @property
    def max_write_rate_observed(self) -> float:
        return self.writes.max_rate_observed

    def set_event_sink(self, sink: EventSink | None) -> None:
        self.bus.sink = sink

    def opportunities(self, catalog: str = "Sandbox") -> dict[str, dict[str, Any]]:
        return self.catalog(catalog).opportunities

    def catalog(self, name: str) -> CatalogState:
        if name not in CATALOGS:
            raise ApiError(
                "ValidationException",
                f"Catalog {name!r} is not valid; use 'AWS' or 'Sandbox'",
                Reason="REQUEST_VALIDATION_FAILED",
                ErrorList=[
                    {"FieldName": "Catalog", "Message": "must be AWS or Sandbox", "Code": "INVALID_VALUE"}
                ],
            )
        if name not in self._catalogs:
            self._catalogs[name] = CatalogState(name)
        return self._catalogs[name]

    def arn(self, catalog: str, kind: str, ident: str) -> str:
        return f"arn:aws:partnercentral:us-east-1:{self.account_id}:catalog/{catalog}/{kind}/{ident}"

    # -- for the operation modules -------------------------------------------------------------------
    def run_later(self, finish: Callable[[], Awaitable[None]], task: dict[str, Any]) -> None:
        """Finish an asynchronous task after ``task_seconds``; a crash marks it FAILED, never lost."""

        async def runner() -> None:
            await asyncio.sleep(self.task_seconds)
            try:
                await finish()
            except Exception as exc:
                log.exception("Partner Central emulator: task %s failed", task.get("TaskId"))
                task.update(TaskStatus="FAILED", Message=f"internal error: {type(exc).__name__}")

        job = asyncio.get_running_loop().create_task(runner())
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def opportunity_event(self, detail_type: str, record: dict[str, Any]) -> None:
        await self.bus.emit(
            detail_type, record["Catalog"], [record["Arn"]], opportunity={"identifier": record["Id"]}
        )
        if detail_type == "Opportunity Updated":  # every change, by the partner or by AWS
            await snapshots.on_opportunity_changed(self, record)

    async def invitation_event(self, detail_type: str, invitation: dict[str, Any]) -> None:
        await self.bus.emit(
            detail_type,
            invitation["Catalog"],
            [invitation["Arn"]],
            engagementInvitation={
                "id": invitation["Id"],
                "arn": invitation["Arn"],
                "engagementId": invitation["EngagementId"],
            },
        )

    async def engagement_event(self, detail_type: str, engagement: dict[str, Any], **extra: Any) -> None:
        catalog = engagement["Arn"].split(":catalog/")[1].split("/")[0]
        await self.bus.emit(
            detail_type,
            catalog,
            [engagement["Arn"]],
            engagement={"id": engagement["Id"], "arn": engagement["Arn"], **extra},
        )

    # -- Emulator hooks -----------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/", self._api)
        router.add_post("/_sandbox/invitations", self._op_invitation)
        router.add_post("/_sandbox/invitations/{id}/expire", self._op_expire)
        router.add_post("/_sandbox/opportunities/{id}", self._op_opportunity)
        router.add_get("/_sandbox/events", self._op_events)
        operator.setup_routes(router, self)

    def reset(self) -> None:
        for job in list(self._background):
            job.cancel()
        self._catalogs.clear()
        self.bus.events.clear()
        self.writes.reset()
        self.reads.reset()

    def fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        # AWS JSON 1.0 errors of the Selling API model: ThrottlingException (400) and InternalServerException
        # (500), https://docs.aws.amazon.com/partner-central/latest/APIReference/CommonErrors.html
        if fault.kind == "throttle":
            return error_response(ApiError("ThrottlingException", "Rate exceeded"))
        return error_response(ApiError("InternalServerException", "Internal error", status=500))

    async def stop(self) -> None:
        jobs = list(self._background)
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await super().stop()

    # -- the AWS API --------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        prefix, _, op_name = target.partition(".")
        self.count(request, op_name or "<no target>")
        try:
            if "authorization" not in request.headers:
                raise ApiError(
                    "MissingAuthenticationTokenException", "Missing Authentication Token", status=403
                )
            if not request.headers["authorization"].startswith("AWS4-HMAC-SHA256 "):
                raise ApiError(
                    "IncompleteSignatureException",
                    "Authorization header must be an AWS Signature Version 4 signature",
                    status=403,
                )
            if prefix != TARGET_PREFIX or not op_name:
                raise ApiError(
                    "UnknownOperationException",
                    f"X-Amz-Target {target!r} is not an operation of {TARGET_PREFIX}",
                )
            model = service_model()
            if op_name not in model.operation_names:
                raise ApiError("UnknownOperationException", f"Operation {op_name!r} does not exist")
            handler = HANDLERS.get(op_name)
            if handler is None:
                raise ApiError(
                    "AccessDeniedException",
                    f"{op_name} is not supported by the cosync sandbox emulator",
                    Reason="INCOMPATIBLE_BENEFIT_AWS_PARTNER_STATE",
                )
            op = model.operation_model(op_name)
            params = parse_params(op, await request.read())
            self.catalog(params.get("Catalog", "Sandbox"))  # validates the catalog before any quota is used
            bucket = self.writes if op_name in WRITE_OPERATIONS else self.reads
            why = bucket.try_acquire()
            if why is not None:
                raise ApiError("ThrottlingException", why)
            result = await handler(self, params)
            return success_response(serialize(result, op.output_shape))
        except ApiError as err:
            return error_response(err)
        except Exception:  # a bug here must still answer like AWS does, not crash the connection
            log.exception("Partner Central emulator: %s failed", op_name)
            return error_response(ApiError("InternalServerException", "Internal error", status=500))

    # -- operator API -------------------------------------------------------------------------------
    async def _op_invitation(self, request: web.Request) -> web.Response:
        body = await operator.json_body(request)
        catalog = body.get("catalog", "Sandbox")
        customer, project = body.get("customer") or {}, body.get("project") or {}
        if catalog not in CATALOGS:
            return operator.bad(f"catalog: must be one of {CATALOGS}")
        if not isinstance(customer, dict) or not isinstance(project, dict):
            return operator.bad("customer and project must be objects")
        for key in ("CompanyName", "CountryCode"):
            if not isinstance(customer.get(key), str) or not customer.get(key):
                return operator.bad(f"customer.{key}: is required")
        for key, shape in (("Industry", "Industry"), ("CountryCode", "CountryCode")):
            if key in customer and customer[key] not in service_model().shape_for(shape).enum:
                return operator.bad(f"customer.{key}: {customer[key]!r} is not a valid {shape}")
        customer.setdefault("Industry", "Other")
        customer.setdefault("WebsiteUrl", "https://example.com")
        spend = project.get("ExpectedCustomerSpend")
        if isinstance(spend, str | int | float):  # shorthand: a monthly amount in USD
            project["ExpectedCustomerSpend"] = [
                {"Amount": str(spend), "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}
            ]
        elif spend is not None and not isinstance(spend, list):
            return operator.bad("project.ExpectedCustomerSpend: must be an amount or a list")
        invitation = await engagements.create_invitation(self, catalog, customer, project)
        return web.json_response(
            {"invitation_id": invitation["Id"], "engagement_id": invitation["EngagementId"]}
        )

    async def _op_expire(self, request: web.Request) -> web.Response:
        body = await operator.json_body(request)
        try:
            invitation = await engagements.expire_invitation(
                self, body.get("catalog", "Sandbox"), request.match_info["id"]
            )
        except ApiError as err:
            return operator.bad(err.message, 404 if err.code == "ResourceNotFoundException" else 409)
        return web.json_response({"invitation_id": invitation["Id"], "status": invitation["Status"]})

    async def _op_opportunity(self, request: web.Request) -> web.Response:
        body = await operator.json_body(request)
        unknown = sorted(set(body) - OPERATOR_FIELDS)
        if unknown:
            return operator.bad(
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(OPERATOR_FIELDS))}"
            )
        catalog = body.get("catalog", "Sandbox")
        if catalog not in CATALOGS:
            return operator.bad(f"catalog: must be one of {CATALOGS}")
        record = self.catalog(catalog).opportunities.get(request.match_info["id"])
        if record is None:
            return operator.bad(f"opportunity {request.match_info['id']!r} not found in {catalog}", 404)
        enums = {
            "ReviewStatus": REVIEW_STATUSES,
            "Stage": AWS_STAGES,
            "EngagementScore": ("High", "Medium", "Low"),
            "InvolvementType": ("For Visibility Only", "Co-Sell"),
            "Visibility": ("Full", "Limited"),
        }
        for key, allowed in enums.items():
            if key in body and body[key] not in allowed:
                return operator.bad(f"{key}: {body[key]!r} is not one of {list(allowed)}")
        seller = body.get("AwsSeller")
        if seller is not None and (not isinstance(seller, dict) or not seller.get("Email")):
            return operator.bad("AwsSeller: must be an object with Email, FirstName, LastName")
        store = self.catalog(catalog)
        summary = store.aws_summaries.setdefault(
            record["Id"],
            {"Catalog": catalog, "RelatedOpportunityId": record["Id"], "Origin": record["Origin"]},
        )
        lifecycle = record["LifeCycle"]
        for key in ("ReviewStatus", "ReviewComments", "ReviewStatusReason"):
            if key in body:
                lifecycle[key] = body[key]
        aws_life = summary.setdefault("LifeCycle", {})
        if "Stage" in body:
            aws_life["Stage"] = body["Stage"]
        if "NextSteps" in body:
            aws_life["NextSteps"] = body["NextSteps"]
            aws_life.setdefault("NextStepsHistory", []).append(
                {"Value": body["NextSteps"], "Time": datetime.now(UTC)}
            )
        insights = summary.setdefault("Insights", {})
        if "EngagementScore" in body:
            insights["EngagementScore"] = body["EngagementScore"]
        if "NextBestActions" in body:
            insights["NextBestActions"] = body["NextBestActions"]
        if seller is not None:
            summary["OpportunityTeam"] = [
                {**seller, "BusinessTitle": seller.get("BusinessTitle", "AWSSalesRep")}
            ]
        for key in ("InvolvementType", "Visibility"):
            if key in body:
                summary[key] = body[key]
        store.touch(record)
        emitted = ["Opportunity Updated"]
        await self.opportunity_event("Opportunity Updated", record)
        status = body.get("ReviewStatus")
        if status in ("Approved", "Rejected"):
            detail_type = "Opportunity Accepted" if status == "Approved" else "Opportunity Rejected"
            await self.opportunity_event(detail_type, record)
            emitted.append(detail_type)
        return web.json_response(
            {
                "id": record["Id"],
                "events": emitted,
                "last_modified_date": record["LastModifiedDate"].isoformat(),
            }
        )

    async def _op_events(self, request: web.Request) -> web.Response:
        return web.json_response(self.events)
