"""The Lead and Opportunity resources of the Cloud CRM Partners API v1 and their validation.

Lead: https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.leads
Opportunity: https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities
Customer: https://developers.google.com/cloud-crm-partners/reference/rest/v1/Customer

Notes on the real resources (so nobody "fixes" the emulator towards a wrong guess):

* ``Opportunity.dealSize`` is a plain number with ``dealCurrencyCode`` beside it (not ``google.type.Money``);
  ``closeDate``/``createDate``/``submitDate`` are ``google.type.Date`` objects.
* A Lead does not expose the Opportunity Google creates from it; the Opportunity's output-only ``lead``
  field points back at the Lead. The emulator's operator API exposes the forward link.
* Neither resource has an ``updateTime``; the emulator tracks one for the operator API only.
* Enum values are checked for proto enum syntax (``UPPER_SNAKE``) but not against the full value lists.

Error messages imitate Google's JSON parser (``Invalid JSON payload received. Unknown name "x" at 'lead'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LEAD",
    "LEAD_REQUIRED",
    "OPPORTUNITY",
    "OPPORTUNITY_OUTPUT_ONLY",
    "OPPORTUNITY_UPDATABLE",
    "FieldError",
    "Kind",
    "camel",
]


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_ENUM = re.compile(r"^[A-Z][A-Z0-9_]*$")
_INT64 = re.compile(r"^-?\d+$")


def camel(path: str) -> str:
    """``win_probability`` → ``winProbability`` (update masks may use either spelling)."""
    head, *rest = path.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass
class Kind:
    """``type`` is one of string, bool, number, int32, int64, enum, date, object, list."""

    type: str
    fields: dict[str, Kind] = field(default_factory=dict)
    item: Kind | None = None
    closed: bool = True

    def check(self, value: Any, path: str) -> None:
        if value is None:
            return
        t = self.type
        bad = FieldError(path, f"Invalid value at '{path}' ({t.upper()}), {value!r}")
        if t == "string" and not isinstance(value, str):
            raise bad
        if t == "bool" and not isinstance(value, bool):
            raise bad
        if t == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad
        if t == "int32" and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad
        if t == "int64" and not (
            (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, str) and _INT64.match(value))
        ):
            raise bad
        if t == "enum" and not (isinstance(value, str) and _ENUM.match(value)):
            raise bad
        if t == "date":
            DATE.check(value, path)
            month, day = value.get("month", 0), value.get("day", 0)
            if not (0 <= month <= 12 and 0 <= day <= 31):
                raise FieldError(path, f"Invalid value at '{path}': not a valid google.type.Date {value!r}")
        if t == "list":
            if not isinstance(value, list):
                raise bad
            assert self.item is not None
            for i, element in enumerate(value):
                self.item.check(element, f"{path}[{i}]")
        if t == "object":
            if not isinstance(value, dict):
                raise bad
            for key, element in value.items():
                child = self.fields.get(key)
                if child is None:
                    if self.closed:
                        raise FieldError(
                            f"{path}.{key}",
                            f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field.",
                        )
                    continue
                child.check(element, f"{path}.{key}")


S, B, N = Kind("string"), Kind("bool"), Kind("number")
E, I32, I64 = Kind("enum"), Kind("int32"), Kind("int64")
DATE = Kind("object", {"year": I32, "month": I32, "day": I32})
D = Kind("date")

CUSTOMER = Kind(
    "object",
    {
        "name": S,
        "company": S,
        "googleAccountDomain": S,
        "totalEmployees": I32,
        "industry": E,
        # CustomerAddress / CustomerContact: shapes not pinned down here, so only their kind is checked.
        "customerAddress": Kind("object", closed=False),
        "customerContacts": Kind("list", item=Kind("object", closed=False)),
    },
)
CONTACT_DETAILS = Kind("object", {"givenName": S, "familyName": S, "email": S, "phone": S})

LEAD = Kind(
    "object",
    {
        "name": S,
        "engagementModel": E,
        "dealTransactionType": E,
        "customer": CUSTOMER,
        "partnerAnnualContractValue": N,
        "leadCurrencyCode": S,
        "estimatedCloseDate": D,
        "dealTerm": S,
        "opportunitySummary": S,
        "supportLevel": E,
        "productInterests": Kind("list", item=E),
        "leadStatus": E,
        "leadApprovalStatus": E,
        "submitterEmail": S,
        "submittedTime": S,
        "rejectionComments": S,
        "approvalNotes": S,
        "externalSystemId": S,
        "description": S,
        "title": S,
        "customerContactRequested": B,
        "deliveryModel": E,
        "contractVehicle": E,
        "isvSolutionConnectDeal": B,
        "rejectionReason": E,
        "leadSource": E,
        "createDate": D,
        "budget": E,
        "timeline": E,
        "authority": E,
        "need": E,
        "isPublicTender": B,
        "isConfidential": B,
    },
)
# Fields the Lead reference marks "Required".
LEAD_REQUIRED = (
    "engagementModel",
    "dealTransactionType",
    "customer",
    "partnerAnnualContractValue",
    "leadCurrencyCode",
    "estimatedCloseDate",
    "dealTerm",
    "opportunitySummary",
    "supportLevel",
)

OPPORTUNITY = Kind(
    "object",
    {
        "name": S,
        "lead": S,
        "owner": CONTACT_DETAILS,
        "notes": S,
        "nextSteps": S,
        "dealSize": N,
        "dealCurrencyCode": S,
        "closeDate": D,
        "sourceSystem": E,
        "salesStage": E,
        "winProbability": I64,
        "productFamily": E,
        "termMonths": I64,
        "customer": CUSTOMER,
        "qualificationState": E,
        "externalSystemId": S,
        "createDate": D,
        "submitDate": D,
        "isConfidential": B,
        "decisionPhase": E,
    },
)
# The reference marks these "Output only"; everything else may be named in an update mask.
OPPORTUNITY_OUTPUT_ONLY = frozenset(
    {
        "name",
        "lead",
        "owner",
        "dealCurrencyCode",
        "sourceSystem",
        "winProbability",
        "productFamily",
        "customer",
        "createDate",
        "submitDate",
    }
)
OPPORTUNITY_UPDATABLE = frozenset(OPPORTUNITY.fields) - OPPORTUNITY_OUTPUT_ONLY
