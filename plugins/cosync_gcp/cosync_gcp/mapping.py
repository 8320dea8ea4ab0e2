"""Pure translations between HubSpot deals and Cloud CRM Partners resources (no I/O, easy to test).

Lead: https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.leads
Opportunity: https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities
Customer: https://developers.google.com/cloud-crm-partners/reference/rest/v1/Customer
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

from cosync_worker.connector import has_tag

from .config import GcpConfig

__all__ = [
    "DEAL_PROPERTIES",
    "GOOGLE_WATCHED",
    "PATCHABLE_DEAL_PROPERTIES",
    "LeadInputError",
    "OpportunityPatch",
    "change_note",
    "changed_deal_fields",
    "external_id",
    "google_changes",
    "has_tag",
    "lead_body",
    "missing_lead_fields",
    "opportunity_patch",
    "opportunity_to_hubspot",
    "parse_close_date",
    "product_family",
]

# Deal properties the connector reads (and snapshots to detect real changes).
PATCHABLE_DEAL_PROPERTIES = ("dealstage", "amount", "closedate", "description", "hs_next_step")
DEAL_PROPERTIES = (
    "dealname",
    *PATCHABLE_DEAL_PROPERTIES,
    "gcp_product_family",
    "deal_currency_code",
    "gcp_lead_name",
    "gcp_opportunity_id",
)
# Opportunity fields Google changes on its side that are written back to the deal.
GOOGLE_WATCHED = ("salesStage", "qualificationState", "decisionPhase", "winProbability")


class LeadInputError(ValueError):
    """The deal cannot become a lead; ``fields`` names each HubSpot field that is missing or bad."""

    def __init__(self, fields: list[str], detail: str = "") -> None:
        self.fields = fields
        super().__init__(detail or f"missing or invalid: {', '.join(fields)}")


def external_id(deal_id: str) -> str:
    """The seed's rule: anything cosync creates from a deal carries ``hubspot-deal-<id>``."""
    return f"hubspot-deal-{deal_id}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_amount(value: Any, field_name: str = "deal.amount") -> float:
    try:
        amount = float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        raise LeadInputError([field_name], f"{field_name} is not a number: {value!r}") from None
    if amount < 0:
        raise LeadInputError([field_name], f"{field_name} must not be negative: {value!r}")
    return amount


def parse_close_date(value: Any, field_name: str = "deal.closedate") -> dict[str, int]:
    """HubSpot sends dates as ISO 8601 or epoch milliseconds; Google wants ``google.type.Date``."""
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{10,14}", text):
            day: date = datetime.fromtimestamp(int(text) / 1000, UTC).date()
        else:
            day = datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except (ValueError, OverflowError, OSError):
        raise LeadInputError([field_name], f"{field_name} is not a date: {value!r}") from None
    return {"year": day.year, "month": day.month, "day": day.day}


def _domain(website: Any) -> str | None:
    if _blank(website):
        return None
    text = str(website).strip()
    host = urlparse(text if "//" in text else f"//{text}").hostname
    return host.removeprefix("www.") if host else None


def missing_lead_fields(deal: dict[str, Any], company: dict[str, Any] | None) -> list[str]:
    """Every HubSpot field a lead needs that is empty, named as ``deal.<prop>``/``company.<prop>``."""
    missing = [f"deal.{p}" for p in ("amount", "closedate") if _blank(deal.get(p))]
    if company is None:
        missing.append("company (no associated company)")
    elif _blank(company.get("name")):
        missing.append("company.name")
    return missing


def lead_body(
    deal_id: str,
    deal: dict[str, Any],
    company: dict[str, Any] | None,
    contact: dict[str, Any] | None,
    config: GcpConfig,
) -> dict[str, Any]:
    """The ``partners.leads.create`` body; raises :class:`LeadInputError` naming every missing field."""
    missing = missing_lead_fields(deal, company)
    if missing:
        raise LeadInputError(missing)
    assert company is not None
    customer: dict[str, Any] = {"company": str(company["name"]).strip()}
    domain = _domain(company.get("domain")) or _domain(company.get("website"))
    if domain:
        customer["googleAccountDomain"] = domain
    if contact:
        person = {
            "givenName": contact.get("firstname"),
            "familyName": contact.get("lastname"),
            "email": contact.get("email"),
            "phone": contact.get("phone"),
        }
        person = {k: str(v) for k, v in person.items() if not _blank(v)}
        if person:
            customer["customerContacts"] = [person]
    summary = deal.get("description") if not _blank(deal.get("description")) else deal.get("dealname")
    lead: dict[str, Any] = {
        "engagementModel": config.engagement_model,
        "dealTransactionType": config.deal_transaction_type,
        "customer": customer,
        "partnerAnnualContractValue": parse_amount(deal["amount"]),
        "leadCurrencyCode": (deal.get("deal_currency_code") or config.currency_code).upper(),
        "estimatedCloseDate": parse_close_date(deal["closedate"]),
        "dealTerm": str(config.deal_term_months),
        "opportunitySummary": str(summary or f"HubSpot deal {deal_id}"),
        "supportLevel": config.support_level,
        "productInterests": [product_family(deal, config)],
        "externalSystemId": external_id(deal_id),
        "title": str(deal.get("dealname") or f"HubSpot deal {deal_id}"),
    }
    if not _blank(deal.get("hs_next_step")):
        lead["description"] = f"Next step: {deal['hs_next_step']}"
    return lead


def product_family(deal: dict[str, Any], config: GcpConfig) -> str:
    value = deal.get("gcp_product_family")
    if _blank(value):
        return config.product_family
    text = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", text):
        raise LeadInputError(
            ["deal.gcp_product_family"], f"deal.gcp_product_family is not an enum: {value!r}"
        )
    return text


def changed_deal_fields(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Patchable deal properties whose value differs from the snapshot cosync last synced."""
    return {p: current.get(p) for p in PATCHABLE_DEAL_PROPERTIES if previous.get(p) != current.get(p)}


@dataclass
class OpportunityPatch:
    """``opportunities.patch`` body plus its ``updateMask``; ``unmapped`` lists changes that cannot be sent."""

    body: dict[str, Any] = field(default_factory=dict)
    mask: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def opportunity_patch(changes: dict[str, Any], config: GcpConfig) -> OpportunityPatch:
    """Only the changed fields, each in the mask. A cleared HubSpot value clears the Google field (AIP-134).

    ``productFamily`` is output only on Opportunity, so ``gcp_product_family`` changes are never sent.
    """
    patch = OpportunityPatch()

    def put(path: str, value: Any) -> None:
        if value is not None:
            patch.body[path] = value
        patch.mask.append(path)

    for prop, value in changes.items():
        if prop == "dealstage":
            stage = config.stage_map.get(str(value)) if not _blank(value) else None
            if stage is None:
                patch.unmapped.append(f"dealstage={value!r} has no salesStage in stage_map")
                continue
            put("salesStage", stage)
        elif prop == "amount":
            put("dealSize", None if _blank(value) else parse_amount(value))
        elif prop == "closedate":
            put("closeDate", None if _blank(value) else parse_close_date(value))
        elif prop == "description":
            put("notes", None if _blank(value) else str(value))
        elif prop == "hs_next_step":
            put("nextSteps", None if _blank(value) else str(value))
        else:
            patch.unmapped.append(f"{prop} cannot be changed through the public API")
    return patch


def google_changes(previous: dict[str, Any], opportunity: dict[str, Any]) -> dict[str, Any]:
    """Watched Google-side fields whose value differs from the snapshot cosync last saw."""
    return {f: opportunity.get(f) for f in GOOGLE_WATCHED if previous.get(f) != opportunity.get(f)}


def opportunity_to_hubspot(opportunity: dict[str, Any], config: GcpConfig) -> dict[str, str]:
    """HubSpot deal properties for an opportunity (ids, Google-owned state, and the mapped dealstage)."""
    name = str(opportunity.get("name", ""))
    props = {
        "gcp_opportunity_name": name,
        "gcp_opportunity_id": name.rsplit("/", 1)[-1],
        "gcp_sales_stage": str(opportunity.get("salesStage") or ""),
        "gcp_qualification_state": str(opportunity.get("qualificationState") or ""),
        "gcp_decision_phase": str(opportunity.get("decisionPhase") or ""),
        "gcp_win_probability": str(opportunity.get("winProbability") or ""),
    }
    stage = opportunity.get("salesStage")
    if stage:
        # First HubSpot stage mapped to this salesStage (several may share one).
        back = next((hs for hs, g in config.stage_map.items() if g == stage), None)
        if back is not None:
            props["dealstage"] = back
    return props


def change_note(deal_id: str, changes: dict[str, Any]) -> str:
    lines = ", ".join(f"{k} → {v if v is not None else '(cleared)'}" for k, v in changes.items())
    return f"Google Cloud updated the opportunity of deal {deal_id}: {lines}"
