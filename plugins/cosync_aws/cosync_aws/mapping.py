"""Pure mapping between HubSpot records and Partner Central opportunities (no I/O; tested on its own).

The fields cosync owns are kept as a flat ``{"LifeCycle.Stage": value, ...}`` dict ("owned view"): the
same dict is built from HubSpot (what the rep wants) and from an opportunity (what AWS holds), so a
no-op is plain equality and an update is "apply the owned view onto the record just read".

Field table: seed 003 (dealname -> Project.Title, description -> Project.CustomerBusinessProblem, dealstage ->
LifeCycle.Stage, closedate -> LifeCycle.TargetCloseDate, amount -> Project.ExpectedCustomerSpend[0].Amount).
Request shapes: https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateOpportunity.html and
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_UpdateOpportunity.html ("If any field is
omitted, the API assumes that the field is set to null").
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime
from typing import Any

from .config import AwsConfig

__all__ = [
    "ACTION_REQUIRED_OPEN",
    "AWS_LIFECYCLE_FIELDS",
    "CLEARABLE_PATHS",
    "DEAL_PROPERTIES",
    "FROZEN_AFTER_APPROVAL",
    "LOCKED_REVIEW_STATUSES",
    "PARTNER_FIELDS",
    "as_created",
    "client_token",
    "create_request",
    "e164",
    "has_tag",
    "hubspot_view",
    "industry_label",
    "merge_update",
    "missing_fields",
    "owned_from_hubspot",
    "owned_view",
    "review_rules",
    "strip_tag",
    "sync_stamp",
    "with_cleared",
]

DEAL_PROPERTIES = (
    "dealname",
    "description",
    "dealstage",
    "closedate",
    "amount",
    "deal_currency_code",
    "hubspot_owner_id",
    "aws_opportunity_id",
    "aws_sync_status",
    "aws_sync_error",
    "aws_solution_ids",
    "aws_use_case",
    "aws_review_status",
)
COMPANY_PROPERTIES = ("name", "domain", "website", "country", "industry", "city", "state", "zip", "address")
CONTACT_PROPERTIES = ("email", "firstname", "lastname", "jobtitle", "phone")

# Partner-owned members of an opportunity: UpdateOpportunity must resend every one of them.
PARTNER_FIELDS = (
    "PrimaryNeedsFromAws",
    "NationalSecurity",
    "PartnerOpportunityIdentifier",
    "Customer",
    "Project",
    "OpportunityType",
    "Marketing",
    "SoftwareRevenue",
    "LifeCycle",
)
# LifeCycle members AWS owns; a partner never sends them.
AWS_LIFECYCLE_FIELDS = ("ReviewStatus", "ReviewComments", "ReviewStatusReason", "NextStepsHistory")
# https://docs.aws.amazon.com/partner-central/latest/selling-api/working-with-opportunity-updates.html
LOCKED_REVIEW_STATUSES = ("Submitted", "In review")
ACTION_REQUIRED_OPEN = (
    "Customer.Account.Address",
    "Customer.Account.WebsiteUrl",
    "LifeCycle.TargetCloseDate",
    "Project.ExpectedCustomerSpend",
    "Project.CustomerBusinessProblem",
    "PartnerOpportunityIdentifier",
)
FROZEN_AFTER_APPROVAL = (
    "Customer.Account.CompanyName",
    "Customer.Account.Address.CountryCode",
    "Customer.Account.Address.PostalCode",
    "Customer.Account.Address.StateOrRegion",
    "Customer.Account.Duns",
)
# Optional fields a rep may empty in HubSpot (seed 002 §1, the GDPR case): the owned view holds None for
# them, and an update leaves them out of the request, which is how UpdateOpportunity clears a field (a full
# replace: "If any field is omitted, the API assumes that the field is set to null"). The required ones
# (title, problem, stage, close date, spend, company name, country, industry, website) are never cleared.
CLEARABLE_PATHS = (
    "Customer.Account.Address.City",
    "Customer.Account.Address.StateOrRegion",
    "Customer.Account.Address.PostalCode",
    "Customer.Account.Address.StreetAddress",
    "Customer.Contacts",
)
# Contact.Phone in botocore's model: pattern ``\+[1-9]\d{1,14}`` (E.164).
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_CALLING_CODES = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "AU": "61",
    "IN": "91",
    "JP": "81",
}
# CustomerBusinessProblem: "Minimum length of 20" in the API reference.
MIN_PROBLEM_LENGTH = 20

_COUNTRIES = {
    "united states": "US",
    "usa": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "germany": "DE",
    "france": "FR",
    "canada": "CA",
    "australia": "AU",
    "india": "IN",
    "japan": "JP",
    "netherlands": "NL",
    "spain": "ES",
    "italy": "IT",
    "brazil": "BR",
}
_INDUSTRIES = {
    "COMPUTER_SOFTWARE": "Software and Internet",
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Software and Internet",
    "INTERNET": "Software and Internet",
    "HOSPITAL_HEALTH_CARE": "Healthcare",
    "FINANCIAL_SERVICES": "Financial Services",
    "BANKING": "Financial Services",
    "RETAIL": "Retail",
    "EDUCATION_MANAGEMENT": "Education",
    "TELECOMMUNICATIONS": "Telecommunications",
    "AUTOMOTIVE": "Automotive",
    "GOVERNMENT_ADMINISTRATION": "Government",
}


def industry_label(hubspot_industry: str) -> str | None:
    """Partner Central's industry for a HubSpot industry enum value (``HOSPITAL_HEALTH_CARE`` -> Healthcare)."""
    return _INDUSTRIES.get(hubspot_industry)


def has_tag(name: str | None, tag: str) -> bool:
    return bool(name) and tag.lower() in str(name).lower()


def strip_tag(name: str, tag: str) -> str:
    idx = name.lower().find(tag.lower())
    if idx < 0:
        return name.strip()
    return " ".join((name[:idx] + name[idx + len(tag) :]).split())


def client_token(kind: str, ident: str) -> str:
    """Idempotency token derived from the HubSpot side, so a retry or a second worker creates nothing new."""
    return f"cosync-{kind}-{ident}"[:64]


def _text(props: dict[str, Any] | None, key: str) -> str:
    value = (props or {}).get(key)
    return str(value).strip() if value not in (None, "") else ""


def _country(company: dict[str, Any] | None, config: AwsConfig) -> str:
    raw = _text(company, "country")
    if len(raw) == 2 and raw.isalpha():
        return raw.upper()
    return _COUNTRIES.get(raw.lower(), config.default_country_code.upper())


def _website(company: dict[str, Any] | None) -> str:
    site = _text(company, "website") or _text(company, "domain")
    if site and not site.startswith(("http://", "https://")):
        site = f"https://{site}"
    return site


def _amount(deal: dict[str, Any]) -> str:
    raw = _text(deal, "amount")
    try:
        value = float(raw)
    except ValueError:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value >= 0 else ""


def e164(phone: str, country_code: str = "US") -> str | None:
    """Pure: a HubSpot phone as Partner Central accepts it (E.164), or None when it cannot be made one.
    ``+1 (555) 010-0199`` and ``555-010-0199`` (US) both give ``+15550100199``; ``00 49 30 1234`` gives
    ``+49301234``; a national number of a country without a known calling code is left out, not guessed."""
    raw = phone.strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        candidate = f"+{digits}"
    elif digits.startswith("00"):
        candidate = f"+{digits[2:]}"
    else:
        code = _CALLING_CODES.get(country_code.upper())
        if code is None or not digits:
            return None
        national = (
            digits[len(code) :] if code == "1" and len(digits) == 11 and digits.startswith("1") else digits
        )
        candidate = f"+{code}{national.lstrip('0')}"
    return candidate if _E164.fullmatch(candidate) else None


def sync_stamp(by: str, at: datetime | None = None) -> dict[str, str]:
    """Pure: ``aws_last_sync_date`` / ``aws_last_sync_by`` (seed 002): when, and who or what caused the last
    sync (``"AWS"``, ``"rep"``, ``"cosync rule"``, an API caller's identity)."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {
        "aws_last_sync_date": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "aws_last_sync_by": by[:200],
    }


def owned_from_hubspot(
    deal: dict[str, Any],
    company: dict[str, Any] | None,
    contacts: list[dict[str, Any]],
    config: AwsConfig,
) -> dict[str, Any]:
    """What the opportunity's cosync-owned fields should be, from HubSpot properties (empty values omitted;
    :func:`with_cleared` says which of those the push must clear)."""
    owned: dict[str, Any] = {}
    title = strip_tag(_text(deal, "dealname"), config.deal_tag)
    if title:
        owned["Project.Title"] = title
    problem = _text(deal, "description")
    if problem:
        owned["Project.CustomerBusinessProblem"] = problem
    stage = config.stage_map.get(_text(deal, "dealstage"))
    if stage:
        owned["LifeCycle.Stage"] = stage
    close = _text(deal, "closedate")[:10]
    if close:
        owned["LifeCycle.TargetCloseDate"] = close
    amount = _amount(deal)
    if amount:
        currency = (_text(deal, "deal_currency_code") or config.default_currency).upper()
        owned["Project.ExpectedCustomerSpend"] = [
            {"Amount": amount, "CurrencyCode": currency, "Frequency": "Monthly", "TargetCompany": "AWS"}
        ]
    if company is not None:
        if _text(company, "name"):
            owned["Customer.Account.CompanyName"] = _text(company, "name")
        if _website(company):
            owned["Customer.Account.WebsiteUrl"] = _website(company)
        owned["Customer.Account.Industry"] = _INDUSTRIES.get(
            _text(company, "industry"), config.default_industry
        )
        owned["Customer.Account.Address.CountryCode"] = _country(company, config)
        for key, prop in (("City", "city"), ("StateOrRegion", "state"), ("PostalCode", "zip")):
            if _text(company, prop):
                owned[f"Customer.Account.Address.{key}"] = _text(company, prop)
        if _text(company, "address"):
            owned["Customer.Account.Address.StreetAddress"] = _text(company, "address")
    people = []
    for c in contacts:
        if not _text(c, "email"):
            continue
        person = {"Email": _text(c, "email")}
        for key, prop in (("FirstName", "firstname"), ("LastName", "lastname")):
            if _text(c, prop):
                person[key] = _text(c, prop)
        if _text(c, "jobtitle"):
            person["BusinessTitle"] = _text(c, "jobtitle")
        phone = e164(_text(c, "phone"), _country(company, config)) if _text(c, "phone") else None
        if phone:
            person["Phone"] = phone
        people.append(person)
    if people:
        owned["Customer.Contacts"] = sorted(people, key=lambda p: p["Email"])
    return owned


def with_cleared(owned: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Pure: ``owned`` plus None for each :data:`CLEARABLE_PATHS` entry the last synced state has and HubSpot
    no longer does: the push then leaves it out of UpdateOpportunity, which clears it in Partner Central. The
    None is kept in the synced state, so the next push compares equal instead of reading again."""
    gone = {p: None for p in CLEARABLE_PATHS if p in previous and p not in owned}
    return {**owned, **gone} if gone else owned


def missing_fields(
    deal: dict[str, Any], company: dict[str, Any] | None, config: AwsConfig, today: date | None = None
) -> list[str]:
    """What Partner Central requires that the deal lacks, named the way a rep finds it in HubSpot."""
    missing: list[str] = []
    if not strip_tag(_text(deal, "dealname"), config.deal_tag):
        missing.append("dealname (Project.Title)")
    problem = _text(deal, "description")
    if len(problem) < MIN_PROBLEM_LENGTH:
        missing.append(
            f"description (Project.CustomerBusinessProblem, at least {MIN_PROBLEM_LENGTH} characters)"
        )
    close = _text(deal, "closedate")[:10]
    if not close:
        missing.append("closedate (LifeCycle.TargetCloseDate)")
    else:
        try:
            when = date.fromisoformat(close)
        except ValueError:
            missing.append("closedate (LifeCycle.TargetCloseDate, not a date)")
        else:
            stage = config.stage_map.get(_text(deal, "dealstage"))
            if when < (today or date.today()) and stage not in ("Launched", "Closed Lost"):
                missing.append("closedate (LifeCycle.TargetCloseDate, must not be in the past)")
    if not _amount(deal):
        missing.append("amount (Project.ExpectedCustomerSpend)")
    if company is None:
        missing.append("associated company (Customer.Account)")
    else:
        if not _text(company, "name"):
            missing.append("company name (Customer.Account.CompanyName)")
        if not _website(company):
            missing.append("company domain or website (Customer.Account.WebsiteUrl)")
    return missing


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Sets the value at ``path``; None removes it (in an update request: clears the field)."""
    parts = path.split(".")
    if value is None:
        node: Any = target
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
        return
    node = target
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _get_path(source: dict[str, Any], path: str) -> Any:
    node: Any = source
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def owned_view(record: dict[str, Any], paths: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The owned fields as an opportunity (or a request) holds them; ``paths`` limits which."""
    from_paths = paths if paths is not None else _OWNED_PATHS
    out: dict[str, Any] = {}
    for path in from_paths:
        value = _get_path(record, path)
        if value not in (None, "", []):
            if path == "Customer.Contacts":
                value = sorted(value, key=lambda p: p.get("Email", ""))
            elif path == "Project.ExpectedCustomerSpend":
                value = [{k: v for k, v in s.items() if k != "EstimationUrl"} for s in value]
            out[path] = value
    return out


_OWNED_PATHS = (
    "Project.Title",
    "Project.CustomerBusinessProblem",
    "Project.ExpectedCustomerSpend",
    "LifeCycle.Stage",
    "LifeCycle.TargetCloseDate",
    "Customer.Account.CompanyName",
    "Customer.Account.WebsiteUrl",
    "Customer.Account.Industry",
    "Customer.Account.Address.CountryCode",
    "Customer.Account.Address.City",
    "Customer.Account.Address.StateOrRegion",
    "Customer.Account.Address.PostalCode",
    "Customer.Account.Address.StreetAddress",
    "Customer.Contacts",
)


def as_created(request: dict[str, Any]) -> dict[str, Any]:
    """A CreateOpportunity request as the opportunity it made reads: a new opportunity is "Pending Submission"
    (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateOpportunity.html)."""
    return {
        **request,
        "LifeCycle": {**(request.get("LifeCycle") or {}), "ReviewStatus": "Pending Submission"},
    }


def create_request(owned: dict[str, Any], deal_id: str, config: AwsConfig) -> dict[str, Any]:
    """CreateOpportunity input (without ``Catalog``, which the client adds)."""
    request: dict[str, Any] = {
        "ClientToken": client_token("deal", deal_id),
        "Origin": "Partner Referral",
        "OpportunityType": "Net New Business",
        "NationalSecurity": "No",
        "PrimaryNeedsFromAws": ["Co-Sell - Deal Support"],
        "PartnerOpportunityIdentifier": f"hubspot-deal-{deal_id}",
    }
    for path, value in owned.items():
        _set_path(request, path, value)
    request.setdefault("LifeCycle", {}).setdefault("Stage", "Prospect")
    return request


def review_rules(review_status: str | None, changed: list[str]) -> tuple[list[str], str | None]:
    """``(blocked paths, reason)`` for owned paths that AWS's review status does not let a partner change."""
    if review_status in LOCKED_REVIEW_STATUSES:
        return list(changed), f"AWS is reviewing the opportunity (review status {review_status!r})"
    if review_status == "Action Required":
        blocked = [p for p in changed if not p.startswith(ACTION_REQUIRED_OPEN)]
        return blocked, "only the fields AWS asked about may change under 'Action Required'"
    if review_status == "Approved":
        blocked = [p for p in changed if p.startswith(FROZEN_AFTER_APPROVAL)]
        return blocked, "customer identity fields are frozen once AWS approved the opportunity"
    return [], None


def merge_update(current: dict[str, Any], owned: dict[str, Any]) -> dict[str, Any]:
    """UpdateOpportunity input: the record just read, with only cosync's fields replaced. Everything AWS or a
    person set in Partner Central is carried over, because an omitted field would be erased."""
    request: dict[str, Any] = {
        k: copy.deepcopy(current[k]) for k in PARTNER_FIELDS if current.get(k) is not None
    }
    lifecycle = request.setdefault("LifeCycle", {})
    for key in AWS_LIFECYCLE_FIELDS:
        lifecycle.pop(key, None)
    for path, value in owned.items():
        _set_path(request, path, value)
    request["Identifier"] = current["Id"]
    request["LastModifiedDate"] = current["LastModifiedDate"]
    return request


def hubspot_view(record: dict[str, Any], config: AwsConfig) -> dict[str, str]:
    """The HubSpot deal properties an opportunity determines (reverse sync), as strings."""
    life = record.get("LifeCycle") or {}
    view: dict[str, str] = {}
    stage = config.reverse_stage(life.get("Stage") or "")
    if stage:
        view["dealstage"] = stage
    if life.get("TargetCloseDate"):
        view["closedate"] = str(life["TargetCloseDate"])[:10]
    if life.get("ReviewStatus"):
        view["aws_review_status"] = str(life["ReviewStatus"])
    if life.get("NextSteps"):
        view["aws_next_steps"] = str(life["NextSteps"])
    feedback = life.get("ReviewComments") or life.get("ReviewStatusReason")
    if feedback:
        view["aws_review_comments"] = str(feedback)  # seed 000 §4: AWS's feedback on the deal
    return view
