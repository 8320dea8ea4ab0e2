"""The Google Cloud CRM Partners API v1 emulator (cloudcrmpartners.googleapis.com).

The public API offers exactly four methods, all emulated
(https://developers.google.com/cloud-crm-partners/reference/rest):

* ``partners.leads.create``  ``POST /v1/partners/{partner}/leads``
* ``partners.leads.get``     ``GET /v1/partners/{partner}/leads/{lead}``
* ``partners.opportunities.get``   ``GET /v1/partners/{partner}/opportunities/{opportunity}``
* ``partners.opportunities.patch`` ``PATCH /v1/partners/{partner}/opportunities/{opportunity}?updateMask=``

There is no list method for leads or opportunities and no way to find the Opportunity Google made from a
Lead, so none is invented; the operator API exposes them instead:

* ``GET /_sandbox/opportunities`` (``?lead=<lead name>`` to filter) and ``GET /_sandbox/leads/{lead}``
  (the lead plus its ``opportunity`` link and the emulator-tracked ``updateTime``).
* ``GET /_sandbox/leads?externalSystemId=<id>``: the names of the leads made with that id (what a person
  looks up in the Partners portal after a creation whose answer was lost).
* ``POST /_sandbox/opportunities/{name or id}``: a change made on Google's side (salesStage, ...).

When a lead is created, Google (the emulator) creates the linked opportunity after ``link_delay_seconds``.
``PATCH`` follows AIP-134: with ``updateMask`` only the named fields change; without it, every field
present in the body is updated. An unknown or output-only mask path is a 400.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..base import Emulator
from ..faults import Fault
from ..microsoft.throttle import Throttle
from ..microsoft.tokens import BearerTokens
from .errors import bad_request, google_error
from .resources import (
    LEAD,
    LEAD_REQUIRED,
    OPPORTUNITY,
    OPPORTUNITY_OUTPUT_ONLY,
    FieldError,
    camel,
)
from .token_endpoint import add_token_route

__all__ = ["GoogleEmulator"]

UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential."
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _today() -> dict[str, int]:
    d = datetime.now(UTC).date()
    return {"year": d.year, "month": d.month, "day": d.day}


class GoogleEmulator(Emulator):
    """In-process Cloud CRM Partners API; see the module docstring for routes and choices."""

    name = "google"

    def __init__(
        self,
        *,
        partner_id: str = "sandbox-partner",
        token_lifetime_seconds: float = 3600,
        rate_per_second: float = 10.0,
        link_delay_seconds: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.partner_id = partner_id
        self.link_delay_seconds = link_delay_seconds
        self.tokens = BearerTokens(lifetime_seconds=token_lifetime_seconds)
        self.throttle = Throttle(rate_per_second)
        self._leads: dict[str, dict[str, Any]] = {}
        self._opportunities: dict[str, dict[str, Any]] = {}
        # Operator-only facts the real resources do not carry.
        self._lead_link: dict[str, str] = {}
        self._update_time: dict[str, str] = {}
        self._pending: set[asyncio.TimerHandle] = set()
        super().__init__(host=host, port=port)

    # -- public API for tests -------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def tokens_issued(self) -> int:
        return self.tokens.issued

    def leads(self) -> dict[str, dict[str, Any]]:
        """Live state keyed by lead resource name (``partners/{p}/leads/{id}``)."""
        return self._leads

    def opportunities(self) -> dict[str, dict[str, Any]]:
        """Live state keyed by opportunity resource name."""
        return self._opportunities

    def opportunity_for_lead(self, lead_name: str) -> str | None:
        """The name of the opportunity Google made from ``lead_name``, once it exists."""
        return self._lead_link.get(lead_name)

    def reset(self) -> None:
        self._cancel_pending()
        for store in (self._leads, self._opportunities, self._lead_link, self._update_time):
            store.clear()
        self.tokens.clear()
        self.throttle.clear()

    async def stop(self) -> None:
        self._cancel_pending()
        await super().stop()

    def _cancel_pending(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()

    # -- routes ---------------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        add_token_route(router, self)
        router.add_post("/v1/partners/{partner}/leads", self._create_lead)
        router.add_get("/v1/partners/{partner}/leads/{lead}", self._get_lead)
        router.add_get("/v1/partners/{partner}/opportunities/{opportunity}", self._get_opportunity)
        router.add_patch("/v1/partners/{partner}/opportunities/{opportunity}", self._patch_opportunity)
        router.add_get("/_sandbox/opportunities", self._op_list_opportunities)
        router.add_post("/_sandbox/opportunities/{name:.+}", self._op_change_opportunity)
        router.add_get("/_sandbox/leads", self._op_find_leads)
        router.add_get("/_sandbox/leads/{lead:.+}", self._op_get_lead)

    def fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.kind == "throttle":
            return google_error(429, "Quota exceeded.", headers={"Retry-After": str(fault.retry_after)})
        return google_error(503, "The service is currently unavailable.")

    def _guard(self, request: web.Request) -> web.Response | None:
        check = self.tokens.check(request.headers.get("Authorization"))
        if not check.ok:
            return google_error(
                401, f"{UNAUTHENTICATED} ({check.reason})", headers={"WWW-Authenticate": "Bearer"}
            )
        if request.match_info.get("partner") != self.partner_id:
            return google_error(
                403, f"The caller does not have permission on partners/{request.match_info.get('partner')}."
            )
        wait = self.throttle.admit()
        if wait:
            return google_error(
                429,
                f"Quota exceeded: more than {self.throttle.rate_per_second:g} requests per second.",
                headers={"Retry-After": Throttle.retry_after_header(wait)},
            )
        return None

    @staticmethod
    async def _json_object(request: web.Request, what: str) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FieldError(what, f"Invalid JSON payload received. {exc}") from exc
        if not isinstance(body, dict):
            raise FieldError(what, f"Invalid JSON payload received. Expected an object for '{what}'.")
        return body

    async def _create_lead(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        try:
            body = await self._json_object(request, "lead")
            LEAD.check(body, "lead")
        except FieldError as exc:
            return bad_request(exc.field, exc.message)
        for name in LEAD_REQUIRED:
            if body.get(name) in (None, "", {}):
                return bad_request(f"lead.{name}", f"Field 'lead.{name}' is required.")
        lead_id = uuid.uuid4().hex[:16]
        lead = copy.deepcopy(body)
        lead["name"] = f"partners/{self.partner_id}/leads/{lead_id}"
        lead.setdefault("createDate", _today())
        lead.setdefault("submittedTime", _now())
        self._leads[lead["name"]] = lead
        self._update_time[lead["name"]] = _now()
        if self.link_delay_seconds <= 0:
            self._create_opportunity_for(lead["name"])
        else:
            loop = asyncio.get_running_loop()
            handle: asyncio.TimerHandle | None = None

            def fire() -> None:
                if handle is not None:
                    self._pending.discard(handle)
                if lead["name"] in self._leads:
                    self._create_opportunity_for(lead["name"])

            handle = loop.call_later(self.link_delay_seconds, fire)
            self._pending.add(handle)
        return web.json_response(lead)

    def _create_opportunity_for(self, lead_name: str) -> dict[str, Any]:
        """What Google does after accepting a lead: an Opportunity whose ``lead`` points back at it."""
        lead = self._leads[lead_name]
        opp_id = uuid.uuid4().hex[:16]
        customer = copy.deepcopy(lead.get("customer") or {})
        customer.setdefault("name", f"customers/{uuid.uuid4().hex[:12]}")
        opportunity: dict[str, Any] = {
            "name": f"partners/{self.partner_id}/opportunities/{opp_id}",
            "lead": lead_name,
            "dealSize": lead.get("partnerAnnualContractValue"),
            "dealCurrencyCode": lead.get("leadCurrencyCode"),
            "closeDate": lead.get("estimatedCloseDate"),
            "customer": customer,
            "createDate": _today(),
            "isConfidential": bool(lead.get("isConfidential", False)),
        }
        if lead.get("productInterests"):
            opportunity["productFamily"] = lead["productInterests"][0]
        opportunity = {k: v for k, v in opportunity.items() if v is not None}
        self._opportunities[opportunity["name"]] = opportunity
        self._lead_link[lead_name] = opportunity["name"]
        self._update_time[opportunity["name"]] = _now()
        return opportunity

    async def _get_lead(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        name = f"partners/{self.partner_id}/leads/{request.match_info['lead']}"
        lead = self._leads.get(name)
        if lead is None:
            return google_error(404, f"Lead {name} not found.")
        return web.json_response(lead)

    async def _get_opportunity(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        name = f"partners/{self.partner_id}/opportunities/{request.match_info['opportunity']}"
        opportunity = self._opportunities.get(name)
        if opportunity is None:
            return google_error(404, f"Opportunity {name} not found.")
        return web.json_response(opportunity)

    async def _patch_opportunity(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        name = f"partners/{self.partner_id}/opportunities/{request.match_info['opportunity']}"
        current = self._opportunities.get(name)
        if current is None:
            return google_error(404, f"Opportunity {name} not found.")
        try:
            body = await self._json_object(request, "opportunity")
            OPPORTUNITY.check(body, "opportunity")
        except FieldError as exc:
            return bad_request(exc.field, exc.message)
        if body.get("name") not in (None, name):
            return bad_request("opportunity.name", f"opportunity.name must be {name!r} or omitted.")
        mask_text = request.query.get("updateMask")
        if mask_text is None:
            paths = [k for k in body if k not in OPPORTUNITY_OUTPUT_ONLY]
        else:
            paths = []
            for raw in (p.strip() for p in mask_text.split(",")):
                if not raw:
                    continue
                path = camel(raw)
                if path not in OPPORTUNITY.fields:
                    return bad_request(
                        "update_mask", f"Invalid update_mask path: {raw!r} is not a field of Opportunity."
                    )
                if path in OPPORTUNITY_OUTPUT_ONLY:
                    return bad_request("update_mask", f"Invalid update_mask path: {raw!r} is output only.")
                paths.append(path)
            if not paths:
                return bad_request("update_mask", "update_mask must name at least one field.")
        updated = copy.deepcopy(current)
        for path in paths:
            if path in body and body[path] is not None:
                updated[path] = copy.deepcopy(body[path])
            else:
                # A masked field absent from the body is cleared (AIP-134).
                updated.pop(path, None)
        self._opportunities[name] = updated
        self._update_time[name] = _now()
        return web.json_response(updated)

    # -- operator API ---------------------------------------------------------------------------
    def _with_meta(self, opportunity: dict[str, Any]) -> dict[str, Any]:
        return {**opportunity, "updateTime": self._update_time.get(opportunity["name"])}

    async def _op_list_opportunities(self, request: web.Request) -> web.Response:
        lead = request.query.get("lead")
        items = [o for o in self._opportunities.values() if lead is None or o.get("lead") == lead]
        return web.json_response({"opportunities": [self._with_meta(o) for o in items]})

    async def _op_find_leads(self, request: web.Request) -> web.Response:
        wanted = request.query.get("externalSystemId")
        if not wanted:
            return bad_request("externalSystemId", "externalSystemId is required.")
        names = [n for n, lead in self._leads.items() if lead.get("externalSystemId") == wanted]
        return web.json_response({"leads": names})

    async def _op_get_lead(self, request: web.Request) -> web.Response:
        raw = request.match_info["lead"]
        name = raw if raw.startswith("partners/") else f"partners/{self.partner_id}/leads/{raw}"
        lead = self._leads.get(name)
        if lead is None:
            return google_error(404, f"Lead {name} not found.")
        return web.json_response(
            {
                "lead": lead,
                "opportunity": self._lead_link.get(name),
                "updateTime": self._update_time.get(name),
            }
        )

    async def _op_change_opportunity(self, request: web.Request) -> web.Response:
        raw = request.match_info["name"]
        name = raw if raw.startswith("partners/") else f"partners/{self.partner_id}/opportunities/{raw}"
        current = self._opportunities.get(name)
        if current is None:
            return google_error(404, f"Opportunity {name} not found.")
        try:
            body = await self._json_object(request, "opportunity")
            OPPORTUNITY.check(body, "opportunity")
        except FieldError as exc:
            return bad_request(exc.field, exc.message)
        for fixed in ("name", "lead"):
            if body.get(fixed) not in (None, current.get(fixed)):
                return bad_request(f"opportunity.{fixed}", f"opportunity.{fixed} cannot be changed.")
        updated = {**copy.deepcopy(current), **copy.deepcopy(body)}
        self._opportunities[name] = updated
        self._update_time[name] = _now()
        return web.json_response(self._with_meta(updated))
