"""PURE mapping between HubSpot deals and Partner Center referrals (no I/O; every function is testable alone).

Referral shape: https://learn.microsoft.com/en-us/partner-center/developer/referral-resources
Create body: https://learn.microsoft.com/en-us/partner-center/developer/create-a-referral
JSON Patch ops: https://learn.microsoft.com/en-us/partner-center/developer/patch-a-referral

Seed 003's table names ``details.closeDate``; the API's property is ``details.closingDateTime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cosync_worker.connector import has_tag

from .config import MicrosoftConfig

__all__ = [
    "DEAL_PROPERTIES",
    "WATCHED_PROPERTIES",
    "ReferralInputError",
    "changed_properties",
    "deal_snapshot",
    "has_tag",
    "patch_operations",
    "referral_body",
    "referral_to_deal",
    "same_value",
    "status_properties",
    "tagged_name",
]

# Deal properties whose change is sent to Microsoft.
WATCHED_PROPERTIES: tuple[str, ...] = (
    "dealname",
    "description",
    "dealstage",
    "closedate",
    "amount",
    "deal_currency_code",
)
DEAL_PROPERTIES: tuple[str, ...] = (
    *WATCHED_PROPERTIES,
    "pipeline",
    "microsoft_referral_id",
    "microsoft_status",
    "microsoft_substatus",
    "microsoft_sync_status",
)
_NUMBER_PROPS = frozenset({"amount"})
_DATE_PROPS = frozenset({"closedate"})
# What to tell the rep when a required customerProfile field is missing.
_FIELD_SOURCES = {
    "name": "associated company name",
    "address.addressLine1": "associated company address",
    "address.city": "associated company city",
    "address.state": "associated company state",
    "address.postalCode": "associated company zip",
    "address.country": "associated company country",
    "team[0].email": "associated contact email",
    "team[0].firstName": "associated contact first name",
    "team[0].lastName": "associated contact last name",
    "team[0].phoneNumber": "associated contact phone",
}


class ReferralInputError(ValueError):
    """The deal cannot become a referral; ``fields`` names every missing or invalid field."""

    def __init__(self, fields: list[str], message: str) -> None:
        super().__init__(message)
        self.fields = fields


def tagged_name(name: str, tag: str) -> str:
    return name if has_tag(name, tag) else f"{name} {tag}".strip()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _iso_datetime(value: Any) -> str | None:
    """HubSpot sends epoch milliseconds or ISO 8601; the API wants ISO 8601 UTC."""
    text = _text(value)
    if not text:
        return None
    moment: datetime | None = None
    if text.isdigit():
        moment = datetime.fromtimestamp(int(text) / 1000, UTC)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> float | int | None:
    text = _text(value) if not isinstance(value, int | float) else str(value)
    if not text:
        return None
    number = float(text)  # ValueError is the caller's to name
    return int(number) if number.is_integer() else number


def _lookup(obj: Any, path: str) -> Any:
    """``address.country`` / ``team[0].email`` inside ``obj``."""
    node = obj
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node.get(name) if isinstance(node, dict) else None
        if index:
            i = int(index.rstrip("]"))
            node = node[i] if isinstance(node, list) and len(node) > i else None
    return node


def _customer_profile(company: dict[str, Any] | None, contacts: list[dict[str, Any]]) -> dict[str, Any]:
    c = company or {}
    address = {
        "addressLine1": _text(c.get("address")),
        "city": _text(c.get("city")),
        "state": _text(c.get("state")),
        "postalCode": _text(c.get("zip")),
        "country": _text(c.get("country")),
    }
    team = [
        {
            k: v
            for k, v in {
                "firstName": _text(p.get("firstname")),
                "lastName": _text(p.get("lastname")),
                "email": _text(p.get("email")),
                "phoneNumber": _text(p.get("phone")),
            }.items()
            if v
        }
        for p in contacts
    ]
    return {
        "name": _text(c.get("name")),
        "address": {k: v for k, v in address.items() if v},
        "team": [t for t in team if t],
    }


def referral_body(
    deal_id: str,
    deal: dict[str, Any],
    company: dict[str, Any] | None,
    contacts: list[dict[str, Any]],
    config: MicrosoftConfig,
) -> dict[str, Any]:
    """The create-referral body for a deal (its properties) and its company/contacts (their properties).

    Raises :class:`ReferralInputError` naming every required field that is missing or invalid."""
    profile = _customer_profile(company, contacts)
    problems: list[str] = []
    for path in config.required_customer_fields:
        value = _lookup(profile, path)
        if value in (None, "", [], {}):
            source = _FIELD_SOURCES.get(path)
            problems.append(f"customerProfile.{path}" + (f" ({source})" if source else ""))
    name = _text(deal.get("dealname"))
    if not name:
        problems.append("name (deal name)")
    details: dict[str, Any] = {"currency": _text(deal.get("deal_currency_code")) or config.currency}
    try:
        amount = _number(deal.get("amount"))
        if amount is not None:
            details["dealValue"] = amount
    except ValueError:
        problems.append(f"details.dealValue (deal amount {deal.get('amount')!r} is not a number)")
    closing = _iso_datetime(deal.get("closedate"))
    if closing:
        details["closingDateTime"] = closing
    elif _text(deal.get("closedate")):
        problems.append(f"details.closingDateTime (deal close date {deal.get('closedate')!r} is not a date)")
    if problems:
        raise ReferralInputError(problems, "missing or invalid: " + ", ".join(problems))
    notes = _text(deal.get("description"))
    if notes:
        details["notes"] = notes
    status, substatus = config.stage_to_status(deal.get("dealstage"))
    body: dict[str, Any] = {
        "name": name,
        "externalReferenceId": deal_id,
        "type": config.referral_type,
        "qualification": config.qualification,
        "status": status,
        "substatus": substatus,
        "customerProfile": profile,
        "consent": {
            "consentToShareReferralWithMicrosoftSellers": config.consent_share_with_microsoft_sellers,
            "consentToContact": config.consent_to_contact,
            "consentToShareInfoWithOthers": config.consent_share_info_with_others,
        },
        "details": details,
    }
    if config.solution_area:
        body["solutionArea"] = config.solution_area
    if config.solution_play:
        body["solutionPlay"] = config.solution_play
    return body


def same_value(prop: str, a: Any, b: Any) -> bool:
    """Equality as HubSpot means it: ``"5000"`` equals ``5000.0``, ISO dates equal their epoch ms."""
    ta, tb = ("" if a is None else str(a)).strip(), ("" if b is None else str(b)).strip()
    if ta == tb:
        return True
    if prop in _NUMBER_PROPS:
        try:
            return float(ta or "nan") == float(tb or "nan")
        except ValueError:
            return False
    if prop in _DATE_PROPS:
        return _iso_datetime(ta) == _iso_datetime(tb) and _iso_datetime(ta) is not None
    return False


def deal_snapshot(deal: dict[str, Any]) -> dict[str, str]:
    """The watched properties of a deal as strings (what the state store remembers as last synced)."""
    return {p: "" if deal.get(p) is None else str(deal.get(p)) for p in WATCHED_PROPERTIES}


def changed_properties(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Watched properties whose value differs between two snapshots."""
    return [p for p in WATCHED_PROPERTIES if not same_value(p, previous.get(p), current.get(p))]


def patch_operations(
    changed: list[str], deal: dict[str, Any], referral: dict[str, Any], config: MicrosoftConfig
) -> list[dict[str, Any]]:
    """JSON Patch ops that carry the deal's ``changed`` properties onto ``referral`` (the current one).

    Only what the rep changed is sent, so Microsoft-side edits to other fields survive; a Closed referral's
    status is never touched (finished deals are not reopened). Raises :class:`ReferralInputError` on a
    value the API cannot take."""
    details = referral.get("details") or {}
    wanted: dict[str, Any] = {}
    for prop in changed:
        value = deal.get(prop)
        if prop == "dealname" and _text(value):
            wanted["/name"] = _text(value)
        elif prop == "description":
            wanted["/details/notes"] = _text(value)
        elif prop == "dealstage" and referral.get("status") != "Closed":
            status, substatus = config.stage_to_status(value)
            wanted["/status"] = status
            wanted["/substatus"] = substatus
        elif prop == "closedate":
            closing = _iso_datetime(value)
            if _text(value) and closing is None:
                raise ReferralInputError(["details.closingDateTime"], f"close date {value!r} is not a date")
            wanted["/details/closingDateTime"] = closing
        elif prop == "amount":
            try:
                wanted["/details/dealValue"] = _number(value)
            except ValueError:
                raise ReferralInputError(["details.dealValue"], f"amount {value!r} is not a number") from None
        elif prop == "deal_currency_code" and _text(value):
            wanted["/details/currency"] = _text(value)
    current = {
        "/name": referral.get("name"),
        "/details/notes": details.get("notes"),
        "/status": referral.get("status"),
        "/substatus": referral.get("substatus"),
        "/details/closingDateTime": details.get("closingDateTime"),
        "/details/dealValue": details.get("dealValue"),
        "/details/currency": details.get("currency"),
    }
    ops: list[dict[str, Any]] = []
    for path, value in wanted.items():
        now = current.get(path)
        if path == "/details/dealValue" and value is not None and now is not None:
            if same_value("amount", value, now):
                continue
        elif path == "/details/closingDateTime" and same_value("closedate", value, now):
            continue
        elif value == now:
            continue
        ops.append({"op": "replace", "path": path, "value": value})
    if any(op["path"] in ("/status", "/substatus") for op in ops):
        # The service checks the pair together: always send both.
        paths = {op["path"] for op in ops}
        for path in ("/status", "/substatus"):
            if path not in paths:
                ops.append({"op": "replace", "path": path, "value": wanted[path]})
    return ops


def status_properties(referral: dict[str, Any]) -> dict[str, str]:
    """The ``microsoft_*`` status properties that mirror a referral on its deal."""
    return {
        "microsoft_referral_id": str(referral.get("id") or ""),
        "microsoft_status": str(referral.get("status") or ""),
        "microsoft_substatus": str(referral.get("substatus") or ""),
    }


def referral_to_deal(referral: dict[str, Any], config: MicrosoftConfig) -> dict[str, Any]:
    """HubSpot deal properties for a referral (the poll creates or updates deals with them)."""
    details = referral.get("details") or {}
    props: dict[str, Any] = {
        "dealname": tagged_name(_text(referral.get("name")) or "Microsoft referral", config.deal_tag),
        "description": _text(details.get("notes")),
        "closedate": _iso_datetime(details.get("closingDateTime")) or "",
        "deal_currency_code": _text(details.get("currency")) or config.currency,
        **status_properties(referral),
        "microsoft_sync_status": "synced",
    }
    try:
        value = _number(details.get("dealValue"))
    except ValueError:
        value = None
    props["amount"] = "" if value is None else str(value)
    stage = config.status_to_stage(referral.get("status"), referral.get("substatus"))
    if stage:
        props["dealstage"] = stage
    return props
