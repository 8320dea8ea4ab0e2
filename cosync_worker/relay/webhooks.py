"""HubSpot webhook intake: verify the signature, parse the batch, enqueue one message per event, and answer
2xx only once the queue holds them all (HubSpot retries anything else, and the queue drops repeats by
``eventId``, so a retry never runs an event twice).

Payload: https://developers.hubspot.com/docs/api/webhooks#webhook-payloads
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..events import InvalidEvent, parse_hubspot_batch
from ..logs import get_logger
from ..metrics import WEBHOOK_EVENTS_ACCEPTED, WEBHOOK_REJECTED
from .keys import CLOCK, INTAKE, PROXIES, SETTINGS
from .openapi import OperationDoc
from .problems import FieldError, ProblemError
from .proxies import external_uri
from .signature import (
    LEGACY_HEADER,
    TIMESTAMP_HEADER,
    V3_HEADER,
    VERSION_HEADER,
    SignatureError,
    verify_hubspot_signature,
)

__all__ = [
    "WEBHOOK_ALIASES",
    "WEBHOOK_PATH",
    "HubSpotWebhookEvent",
    "WebhookAccepted",
    "add_webhook_routes",
    "hubspot_webhook",
]

log = get_logger("cosync.relay")

WEBHOOK_PATH = "/webhooks/hubspot"
# The target URLs of the original Lambda deployment (seeds), so existing subscriptions keep working: HubSpot's
# own, then each connector's (``/webhook/hubspot/<connector>``, ``/webhook/<connector>``), whatever connectors
# a deployment had. The explicit ones come first, so the patterns never shadow them; every alias is verified
# by the signature over its own URI, like the main path.
WEBHOOK_ALIASES = (
    "/webhook/hubspot",
    "/webhook/deal-update",
    "/webhook/contact-update",
    "/webhook/company-update",
    "/webhook/deal-owner-change",
    "/webhook/hubspot/{connector:[a-z][a-z0-9_-]*}",
    "/webhook/{connector:[a-z][a-z0-9_-]*}",
)


class HubSpotWebhookEvent(BaseModel):
    """One element of a webhook batch, for the OpenAPI document (intake parses with ``parse_hubspot_batch``)."""

    model_config = ConfigDict(extra="allow")

    eventId: int | str
    subscriptionType: str = Field(examples=["deal.propertyChange"])
    objectId: int | str | None = Field(
        None, description="absent on associationChange (fromObjectId names it)"
    )
    occurredAt: int | None = None
    portalId: int | None = None
    appId: int | None = None
    subscriptionId: int | None = None
    attemptNumber: int | None = None
    propertyName: str | None = None
    propertyValue: str | None = None
    changeSource: str | None = None
    fromObjectId: int | str | None = None
    toObjectId: int | str | None = None
    associationType: str | None = None
    associationRemoved: bool | None = None


class WebhookAccepted(BaseModel):
    accepted: int = Field(ge=0, description="Events enqueued (repeats of an eventId are dropped downstream)")


def _reject(reason: str, status: int, detail: str, errors: list[FieldError] | None = None) -> ProblemError:
    WEBHOOK_REJECTED.labels(reason=reason).inc()
    log.info("webhook_rejected", reason=reason, status=status)
    kind = {401: "invalid-signature", 400: "invalid-event", 503: "unavailable"}.get(status)
    return ProblemError(status, detail, kind=kind, errors=errors or ())


async def hubspot_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    relay = settings.relay
    body = await request.read()  # the body guard has read it, within relay.max_body_bytes and its timeout
    secret_ref = settings.hubspot.client_secret
    if secret_ref is None or not secret_ref.resolved:
        raise _reject("not_configured", 503, "webhook intake is not configured (hubspot.client_secret)")
    try:
        verify_hubspot_signature(
            secret=secret_ref.get(),
            method=request.method,
            uri=external_uri(request, request.app[PROXIES], relay.public_url),
            body=body,
            headers=request.headers,
            now=request.app[CLOCK](),
            max_age_seconds=relay.signature_max_age_seconds,
            allow_legacy=relay.legacy_signatures,
        )
    except SignatureError as exc:
        raise _reject(exc.reason, 401, exc.detail) from None
    try:
        events = parse_hubspot_batch(body)
    except InvalidEvent as exc:
        raise _reject(
            "invalid_event",
            400,
            "the body is not a valid HubSpot webhook batch",
            [FieldError(field=exc.field, message=exc.problem)],
        ) from None
    # Serialised before the queue is called, so only the queue's own failure is reported as one.
    items = [(e.to_json(), e.ordering_key, e.dedupe_key) for e in events]
    try:
        # One call: the backend stores the whole batch atomically or not at all.
        await request.app[INTAKE].send(items)
    except Exception as exc:
        log.warning("webhook_queue_unavailable", error=type(exc).__name__, events=len(events))
        raise _reject(
            "queue_unavailable", 503, "the queue is unavailable; nothing was accepted, retry"
        ) from None
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
    WEBHOOK_EVENTS_ACCEPTED.labels(route=route).inc(len(events))
    return web.json_response(WebhookAccepted(accepted=len(events)).model_dump())


def add_webhook_routes(app: web.Application, operations: list[OperationDoc]) -> None:
    headers: dict[str, dict[str, Any]] = {
        V3_HEADER: {"type": "string"},
        TIMESTAMP_HEADER: {"type": "string"},
        LEGACY_HEADER: {"type": "string"},
        VERSION_HEADER: {"type": "string", "enum": ["v1", "v2"]},
    }
    for path in (WEBHOOK_PATH, *WEBHOOK_ALIASES):
        app.router.add_post(path, hubspot_webhook)
        operations.append(
            OperationDoc(
                method="POST",
                path=path,
                summary="HubSpot webhook batch (signed with X-HubSpot-Signature-v3)"
                if path == WEBHOOK_PATH
                else f"Alias of {WEBHOOK_PATH}",
                tags=("webhooks",),
                auth=False,
                body_array_model=HubSpotWebhookEvent,
                response_model=WebhookAccepted,
                header_params=headers,
                error_statuses=(400, 401, 408, 413, 503),
                error_descriptions={401: "Missing, stale or invalid HubSpot signature"},
            )
        )
