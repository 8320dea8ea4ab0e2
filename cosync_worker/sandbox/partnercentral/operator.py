"""Operator API for engagements: act as AWS or as another partner on an engagement (not part of AWS).

Every body is JSON; ``catalog`` defaults to ``"Sandbox"``. Errors answer ``{"error": "..."}`` with 400 (bad
input), 404 (unknown engagement/opportunity/context) or 409 (the engagement's state forbids it).

* ``GET /_sandbox/engagements?catalog=Sandbox`` - every engagement with its state:
  ``{"engagements": [{"id", "arn", "title", "description", "created_by", "created_at", "modified_at",
  "modified_by", "members": [{"AccountId", "CompanyName", "WebsiteUrl"}], "contexts": [{"Id", "Type",
  "Payload"}], "opportunities": [ids], "invitations": [{"id", "status", "participant_type", "receiver"}],
  "snapshots": [{"arn", "resource_id", "template", "revision", "created_by"}], "snapshot_jobs": [{"id",
  "status", "resource_id", "template"}]}]}``.
* ``POST /_sandbox/engagements/{id}/members`` ``{"account_id", "company_name", "website_url"?, "event"?}``
  - a member (AWS is ``"aws"``, another partner its 12-digit account) enters the engagement.
  ``"event": "added"`` (default) publishes ``Engagement Member Added`` (AWS or a member added it);
  ``"joined"`` publishes ``Engagement Member Joined`` (it accepted an invitation; a PENDING invitation the
  partner sent it with CreateEngagementInvitation turns ACCEPTED). → ``{"engagement_id", "member_count",
  "event"}``. Already a member, or the 10-member maximum: 409.
* ``POST /_sandbox/engagements/{id}/snapshots`` ``{"opportunity_id", "template"?, "created_by"?}`` - a
  member shares a snapshot of an opportunity into the engagement (``template`` defaults to
  ``AwsOpportunitySummaryFullView``, ``created_by`` to ``"aws"``, which must be a member); the opportunity is
  associated with the engagement if it was not (400 if it belongs to another one). Publishes ``Resource Snapshot Created`` and ``Engagement
  Resource Snapshot Created``. → ``{"arn", "revision", "events"}``.
* ``POST /_sandbox/engagements/{id}/context`` ``{"payload": {"CustomerProject": {...}} | {"Lead": {...}},
  "context_id"?, "modified_by"?}`` - AWS (default ``"aws"``) or a member changes a context; ``payload`` is
  an ``UpdateEngagementContextPayload`` of the model, validated like a request. Without ``context_id`` the
  first context of the payload's type is changed, or a new one added. AWS publishes no event for a context
  change, so none is published; the engagement's ``ModifiedAt`` moves. → ``{"engagement_id", "context_id",
  "modified_at"}``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .engagement_writes import update_context
from .protocol import ApiError, iso, service_model, validate_value
from .records import AWS_ACCOUNT, add_context, add_member
from .snapshots import SNAPSHOT_TEMPLATES, claim, take_snapshot

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator
    from .state import CatalogState

__all__ = ["bad", "json_body", "setup_routes"]

CATALOGS = ("AWS", "Sandbox")
_ACCOUNT = re.compile(r"[0-9]{12}|\w{1,12}")  # the model's AwsAccount pattern
MEMBER_EVENTS = {"added": "Engagement Member Added", "joined": "Engagement Member Joined"}


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not valid JSON: {exc}"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}), content_type="application/json"
        )
    return body


def bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Refused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _text(body: dict[str, Any], key: str, default: str | None = None, limit: int = 120) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise _Refused(f"{key}: must be a string of 1 to {limit} characters")
    return value


class _Operator:
    def __init__(self, em: PartnerCentralEmulator) -> None:
        self.em = em

    def _store(self, catalog: Any) -> CatalogState:
        if catalog not in CATALOGS:
            raise _Refused(f"catalog: must be one of {CATALOGS}")
        return self.em.catalog(catalog)

    def _engagement(self, store: CatalogState, request: web.Request) -> dict[str, Any]:
        ident = request.match_info["id"]
        record = store.engagements.get(ident)
        if record is None:
            raise _Refused(f"engagement {ident!r} not found in {store.name}", 404)
        return record

    async def handle(self, request: web.Request, action: Any) -> web.Response:
        try:
            return web.json_response(_plain(await action(request)))
        except _Refused as err:
            return bad(err.message, err.status)
        except ApiError as err:  # a state rule of the engagement, or the model's validation of a payload
            status = 400 if err.code == "ValidationException" else 409
            return bad(err.message, 404 if err.code == "ResourceNotFoundException" else status)

    async def list(self, request: web.Request) -> dict[str, Any]:
        store = self._store(request.query.get("catalog", "Sandbox"))
        out = []
        for e in store.engagements.values():
            out.append(
                {
                    "id": e["Id"],
                    "arn": e["Arn"],
                    "title": e["Title"],
                    "description": e["Description"],
                    "created_by": e["CreatedBy"],
                    "created_at": e["CreatedAt"],
                    "modified_at": e["ModifiedAt"],
                    "modified_by": e["ModifiedBy"],
                    "members": e["Members"],
                    "contexts": e["Contexts"],
                    "opportunities": e["Opportunities"],
                    "invitations": [
                        {
                            "id": i["Id"],
                            "status": i["Status"],
                            "participant_type": i["ParticipantType"],
                            "receiver": i["Receiver"]["Account"]["AwsAccountId"],
                        }
                        for i in store.invitations.values()
                        if i["EngagementId"] == e["Id"]
                    ],
                    "snapshots": [
                        {
                            "arn": s["Arn"],
                            "resource_id": s["ResourceId"],
                            "template": s["ResourceSnapshotTemplateName"],
                            "revision": s["Revision"],
                            "created_by": s["CreatedBy"],
                        }
                        for s in store.snapshots
                        if s["EngagementId"] == e["Id"]
                    ],
                    "snapshot_jobs": [
                        {
                            "id": j["Id"],
                            "status": j["Status"],
                            "resource_id": j["ResourceId"],
                            "template": j["ResourceSnapshotTemplateName"],
                        }
                        for j in store.snapshot_jobs.values()
                        if j["EngagementId"] == e["Id"]
                    ],
                }
            )
        return {"engagements": out}

    async def member(self, request: web.Request) -> dict[str, Any]:
        body = await json_body(request)
        store = self._store(body.get("catalog", "Sandbox"))
        engagement = self._engagement(store, request)
        account = _text(body, "account_id", limit=12)
        if not _ACCOUNT.fullmatch(account):
            raise _Refused(
                "account_id: must be a 12-digit AWS account id or an alias of up to 12 word characters"
            )
        company = _text(body, "company_name")
        website = _text(body, "website_url", "https://example.com", limit=255)
        kind = body.get("event", "added")
        if kind not in MEMBER_EVENTS:
            raise _Refused(f"event: must be one of {sorted(MEMBER_EVENTS)}")
        if not add_member(store, engagement, account, company, website):
            raise _Refused(f"{account} is already a member of {engagement['Id']}", 409)
        if kind == "joined":
            for invitation in store.invitations.values():
                if (
                    invitation["EngagementId"] == engagement["Id"]
                    and invitation["ParticipantType"] == "SENDER"
                    and invitation["Status"] == "PENDING"
                    and invitation["Receiver"]["Account"]["AwsAccountId"] == account
                ):
                    invitation["Status"] = "ACCEPTED"
        await self.em.engagement_event(MEMBER_EVENTS[kind], engagement, memberAccountId=account)
        return {
            "engagement_id": engagement["Id"],
            "member_count": engagement["MemberCount"],
            "event": MEMBER_EVENTS[kind],
        }

    async def snapshot(self, request: web.Request) -> dict[str, Any]:
        body = await json_body(request)
        store = self._store(body.get("catalog", "Sandbox"))
        engagement = self._engagement(store, request)
        template = body.get("template", "AwsOpportunitySummaryFullView")
        if template not in SNAPSHOT_TEMPLATES:
            raise _Refused(f"template: must be one of {list(SNAPSHOT_TEMPLATES)}")
        by = _text(body, "created_by", AWS_ACCOUNT, limit=12)
        if not any(m["AccountId"] == by for m in engagement["Members"]):
            raise _Refused(f"{by} is not a member of {engagement['Id']}; add it first", 409)
        opp_id = _text(body, "opportunity_id", limit=20)
        record = store.opportunities.get(opp_id)
        if record is None:
            raise _Refused(f"opportunity {opp_id!r} not found in {store.name}", 404)
        claim(store, engagement, record, by)
        snapshot = await take_snapshot(self.em, store, engagement, record, template, created_by=by)
        return {
            "arn": snapshot["Arn"],
            "revision": snapshot["Revision"],
            "events": ["Resource Snapshot Created", "Engagement Resource Snapshot Created"],
        }

    async def context(self, request: web.Request) -> dict[str, Any]:
        body = await json_body(request)
        store = self._store(body.get("catalog", "Sandbox"))
        engagement = self._engagement(store, request)
        by = _text(body, "modified_by", AWS_ACCOUNT, limit=12)
        raw = body.get("payload")
        if not isinstance(raw, dict) or len(raw) != 1:
            raise _Refused('payload: must be an object with one member, "CustomerProject" or "Lead"')
        payload = validate_value(raw, service_model().shape_for("UpdateEngagementContextPayload"), "payload")
        kind = next(iter(payload))
        context_id = body.get("context_id")
        if context_id is None:
            context_id = next((c["Id"] for c in engagement["Contexts"] if c["Type"] == kind), None)
        if context_id is None:
            if kind == "Lead":  # a new lead context needs the list form of the interaction
                lead = dict(payload["Lead"])
                lead["Interactions"] = [lead.pop("Interaction")] if lead.get("Interaction") else []
                payload = {"Lead": lead}
            context = add_context(store, engagement, kind, payload, by)
        else:
            if not isinstance(context_id, str):
                raise _Refused("context_id: must be a string")
            context = update_context(store, engagement, context_id, payload, by)
        return {
            "engagement_id": engagement["Id"],
            "context_id": context["Id"],
            "modified_at": engagement["ModifiedAt"],
        }


def setup_routes(router: web.UrlDispatcher, em: PartnerCentralEmulator) -> None:
    op = _Operator(em)
    router.add_get("/_sandbox/engagements", lambda r: op.handle(r, op.list))
    router.add_post("/_sandbox/engagements/{id}/members", lambda r: op.handle(r, op.member))
    router.add_post("/_sandbox/engagements/{id}/snapshots", lambda r: op.handle(r, op.snapshot))
    router.add_post("/_sandbox/engagements/{id}/context", lambda r: op.handle(r, op.context))
