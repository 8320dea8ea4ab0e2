"""The Microsoft Partner Center Referrals API emulator (plus the Azure AD token endpoint it needs).

Routes modelled on Microsoft's reference pages:

* ``POST /v1.0/engagements/referrals`` https://learn.microsoft.com/en-us/partner-center/developer/create-a-referral
* ``GET /v1.0/engagements/referrals`` https://learn.microsoft.com/en-us/partner-center/developer/get-a-list-of-referrals
* ``GET /v1.0/engagements/referrals/{id}``
  https://learn.microsoft.com/en-us/partner-center/developer/get-a-referral-by-id
* ``PATCH /v1.0/engagements/referrals/{id}`` https://learn.microsoft.com/en-us/partner-center/developer/patch-a-referral

Deliberate choices where the docs are silent or loose (so cosync is tested against the stricter case):

* ``If-Match`` is *required* on PATCH (the docs say it is used "if passed"): missing → 428, stale → 412.
* The list pages: ``$top`` is the page size (default 100, at most 500); when more remain the body carries
  ``continuationToken``, which the next request sends back in the ``continuationToken`` header (or query
  parameter) with the same ``$filter``/``$orderby``/``$top``.
* PATCH answers 204 unless ``Prefer: return=representation`` (then 200 with the referral); both carry the
  new ``ETag`` header.

Operator API (not part of Microsoft's): ``POST /_sandbox/referrals`` creates an incoming referral as Microsoft
would; ``POST /_sandbox/referrals/{id}`` changes it as Microsoft or the customer would;
``GET /_sandbox/referrals`` lists everything.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..base import Emulator
from ..faults import Fault
from .errors import api_error
from .identity import add_identity_routes
from .odata import ODataError, parse_filter, parse_orderby
from .patching import apply_json_patch, apply_merge, deep_merge
from .schema import (
    REFERRAL,
    SUBSTATUS_BY_STATUS,
    ValidationError,
    check_status_pair,
    validate_new_referral,
)
from .throttle import Throttle
from .tokens import BearerTokens

__all__ = ["MicrosoftEmulator"]

API = "/v1.0/engagements/referrals"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_etag() -> str:
    return uuid.uuid4().hex


def _bare_etag(value: str) -> str:
    """``W/"abc"`` and ``"abc"`` and ``abc`` all name the same entity tag."""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


class MicrosoftEmulator(Emulator):
    """In-process Partner Center Referrals API; see the module docstring for routes and choices."""

    name = "microsoft"

    def __init__(
        self,
        *,
        tenant_id: str = "sandbox-tenant",
        client_id: str = "sandbox-ms-client",
        client_secret: str = "sandbox-ms-secret",
        refresh_token: str = "sandbox-ms-refresh",
        token_lifetime_seconds: float = 3600,
        rate_per_second: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.tokens = BearerTokens(lifetime_seconds=token_lifetime_seconds)
        self.throttle = Throttle(rate_per_second)
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cosync-sandbox/{tenant_id}"))
        self._referrals: dict[str, dict[str, Any]] = {}
        super().__init__(host=host, port=port)

    # -- public API for tests -------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def tokens_issued(self) -> int:
        return self.tokens.issued

    def referrals(self) -> dict[str, dict[str, Any]]:
        """The live state, keyed by referral id (tests may read it; change it through the operator API)."""
        return self._referrals

    def add_incoming_referral(self, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``POST /_sandbox/referrals`` does: Microsoft sends the partner a new referral."""
        changes = {k: v for k, v in (fields or {}).items() if k != "externalReferenceId"}
        REFERRAL.check(changes, "")
        base = {
            "name": f"Incoming referral {len(self._referrals) + 1}",
            "type": "Shared",
            "qualification": "SalesQualified",
            "direction": "Incoming",
            "status": "New",
            "substatus": "Pending",
            "customerProfile": {"name": "Sandbox Customer", "team": []},
            "consent": {"consentToShareReferralWithMicrosoftSellers": True, "consentToContact": True},
            "details": {"dealValue": 0, "currency": "USD", "notes": ""},
            "team": [],
        }
        referral = deep_merge(base, changes)
        check_status_pair(referral)
        return self._store_new(referral)

    def reset(self) -> None:
        self._referrals.clear()
        self.tokens.clear()
        self.throttle.clear()

    # -- routes ---------------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        add_identity_routes(router, self)
        router.add_post(API, self._create)
        router.add_get(API, self._list)
        router.add_get(API + "/{id}", self._get)
        router.add_patch(API + "/{id}", self._patch)
        router.add_post("/_sandbox/referrals", self._op_create)
        router.add_get("/_sandbox/referrals", self._op_list)
        router.add_post("/_sandbox/referrals/{id}", self._op_change)

    def fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        # Partner Center's error body (https://learn.microsoft.com/en-us/partner-center/developer/error-codes)
        if fault.kind == "throttle":
            return api_error(
                429,
                "TooManyRequests",
                "Rate limit exceeded.",
                headers={"Retry-After": str(fault.retry_after)},
            )
        return api_error(500, "InternalServerError", "An internal error occurred.")

    def _guard(self, request: web.Request) -> web.Response | None:
        """Authentication, then throttling: what every Referrals API call goes through first."""
        check = self.tokens.check(request.headers.get("Authorization"))
        if not check.ok:
            return api_error(401, "Unauthorized", check.reason, headers={"WWW-Authenticate": "Bearer"})
        wait = self.throttle.admit()
        if wait:
            return api_error(
                429,
                "TooManyRequests",
                f"Rate limit of {self.throttle.rate_per_second:g} requests per second exceeded.",
                headers={"Retry-After": Throttle.retry_after_header(wait)},
            )
        return None

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError("", f"The request body is not valid JSON: {exc}") from exc

    def _store_new(self, referral: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        referral = copy.deepcopy(referral)
        referral.update(
            {
                "id": str(uuid.uuid4()),
                "engagementId": str(uuid.uuid4()),
                "organizationId": self.organization_id,
                "organizationName": "Sandbox Partner",
                "createdDateTime": now,
                "updatedDateTime": now,
                "eTag": _new_etag(),
            }
        )
        referral.setdefault("expirationDateTime", None)
        if referral.get("status") == "Active":
            referral.setdefault("acceptedDateTime", now)
        self._referrals[referral["id"]] = referral
        return referral

    def _replace(self, referral_id: str, updated: dict[str, Any]) -> dict[str, Any]:
        previous = self._referrals[referral_id]
        updated["updatedDateTime"] = _now()
        updated["eTag"] = _new_etag()
        if updated.get("status") == "Active" and previous.get("status") != "Active":
            updated.setdefault("acceptedDateTime", updated["updatedDateTime"])
        self._referrals[referral_id] = updated
        return updated

    @staticmethod
    def _bad(exc: ValidationError) -> web.Response:
        return api_error(400, "InvalidInput", exc.message, target=exc.field or None)

    def _not_found(self, referral_id: str) -> web.Response:
        return api_error(404, "NotFound", f"Referral '{referral_id}' was not found.")

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        try:
            body = await self._json(request)
            validate_new_referral(body)
        except ValidationError as exc:
            return self._bad(exc)
        # A partner-created referral starts Active/Accepted unless the body says otherwise.
        body.setdefault("status", "Active")
        body.setdefault("direction", "Outgoing")
        body.setdefault("team", [])
        if body.get("substatus") is None:
            if body["status"] == "Closed":
                return api_error(
                    400, "InvalidInput", "A Closed referral needs a substatus.", target="substatus"
                )
            body["substatus"] = SUBSTATUS_BY_STATUS[body["status"]][0]
        referral = self._store_new(body)
        return web.json_response(referral, status=201, headers={"ETag": referral["eTag"]})

    async def _get(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        referral = self._referrals.get(request.match_info["id"])
        if referral is None:
            return self._not_found(request.match_info["id"])
        return web.json_response(referral, headers={"ETag": referral["eTag"]})

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        query = request.query
        unknown = [
            k for k in query if k.startswith("$") and k not in ("$filter", "$orderby", "$top", "$select")
        ]
        if unknown:
            return api_error(400, "InvalidQuery", f"The query option '{unknown[0]}' is not supported.")
        try:
            predicate = parse_filter(query.get("$filter", ""), set(REFERRAL.fields))
            order_field, descending = parse_orderby(query.get("$orderby"))
        except ODataError as exc:
            return api_error(400, "InvalidQuery", str(exc))
        top_text = query.get("$top", str(DEFAULT_PAGE_SIZE))
        if not top_text.isdigit() or not 1 <= int(top_text) <= MAX_PAGE_SIZE:
            return api_error(400, "InvalidQuery", f"$top must be an integer from 1 to {MAX_PAGE_SIZE}.")
        top = int(top_text)
        fingerprint = hashlib.sha256(
            "\n".join((query.get("$filter", ""), query.get("$orderby", ""), top_text)).encode()
        ).hexdigest()[:16]
        token = request.headers.get("continuationToken") or query.get("continuationToken")
        offset = 0
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                offset, bound = int(state["o"]), state["q"]
            except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                return api_error(400, "InvalidContinuationToken", "The continuation token is malformed.")
            if bound != fingerprint:
                return api_error(
                    400,
                    "InvalidContinuationToken",
                    "The continuation token belongs to a different $filter/$orderby/$top.",
                )
        matching = [r for r in self._referrals.values() if predicate(r)]
        matching.sort(
            key=lambda r: (r.get(order_field) or "", r["createdDateTime"], r["id"]), reverse=descending
        )
        page = matching[offset : offset + top]
        select = [s.strip() for s in query.get("$select", "").split(",") if s.strip()]
        body: dict[str, Any] = {
            "value": [{k: r[k] for k in select if k in r} if select else r for r in page],
            "totalCount": len(matching),
        }
        if offset + top < len(matching):
            body["continuationToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": offset + top, "q": fingerprint}).encode()
            ).decode()
        return web.json_response(body)

    async def _patch(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        referral_id = request.match_info["id"]
        current = self._referrals.get(referral_id)
        if current is None:
            return self._not_found(referral_id)
        if_match = request.headers.get("If-Match")
        if not if_match:
            return api_error(
                428, "PreconditionRequired", "The If-Match header with the referral's eTag is required."
            )
        if if_match.strip() != "*" and _bare_etag(if_match) != current["eTag"]:
            return api_error(
                412,
                "PreconditionFailed",
                f"The eTag {if_match!r} does not match the current eTag of referral '{referral_id}'; "
                "the referral was changed since it was read. GET it again and reapply the change.",
                headers={"ETag": current["eTag"]},
            )
        try:
            body = await self._json(request)
            if isinstance(body, list):
                updated = apply_json_patch(current, body)
            elif isinstance(body, dict):
                REFERRAL.check(body, "")
                updated = apply_merge(current, body)
            else:
                raise ValidationError("", "The request body must be a JSON Patch array or a Referral object.")
            REFERRAL.check(updated, "")
            check_status_pair(updated)
        except ValidationError as exc:
            return self._bad(exc)
        referral = self._replace(referral_id, updated)
        headers = {"ETag": referral["eTag"]}
        if "return=representation" in request.headers.get("Prefer", ""):
            return web.json_response(referral, headers=headers)
        return web.Response(status=204, headers=headers)

    # -- operator API ---------------------------------------------------------------------------
    async def _op_create(self, request: web.Request) -> web.Response:
        try:
            body = await self._json(request) if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ValidationError("", "The request body must be a JSON object of referral fields.")
            referral = self.add_incoming_referral(body)
        except ValidationError as exc:
            return self._bad(exc)
        return web.json_response(referral, status=201)

    async def _op_list(self, request: web.Request) -> web.Response:
        return web.json_response({"value": list(self._referrals.values())})

    async def _op_change(self, request: web.Request) -> web.Response:
        referral_id = request.match_info["id"]
        current = self._referrals.get(referral_id)
        if current is None:
            return self._not_found(referral_id)
        try:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ValidationError("", "The request body must be a JSON object of referral fields.")
            REFERRAL.check(body, "")
            updated = apply_merge(current, body)
            check_status_pair(updated)
        except ValidationError as exc:
            return self._bad(exc)
        return web.json_response(self._replace(referral_id, updated))
