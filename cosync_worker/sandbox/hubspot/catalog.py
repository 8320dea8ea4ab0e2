"""What a fresh HubSpot portal already has: object types, association types, owners and the default deal
pipeline (its standard properties are in :mod:`.standard_properties`).

Object type ids: https://developers.hubspot.com/docs/api/crm/understanding-the-crm#object-type-ids
Default association type ids: https://developers.hubspot.com/docs/api/crm/associations/v4#association-type-id-values
Default deal stages: https://developers.hubspot.com/docs/api/crm/pipelines
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import validation_error

__all__ = [
    "ASSOCIATION_TYPES",
    "DEAL_STAGES",
    "DEFAULT_ASSOCIATION",
    "OBJECT_TYPES",
    "OWNERS",
    "ObjectType",
    "resolve_object_type",
]


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural path name, "deals"
    type_id: str  # "0-3"
    singular: str  # "deal"; also the webhook subscription prefix
    default_properties: tuple[str, ...]  # returned when the caller names none
    group: str  # the default property group


_COMMON = ("createdate", "hs_createdate", "hs_lastmodifieddate", "hs_object_id")
OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "deals",
            "0-3",
            "deal",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
            "dealinformation",
        ),
        ObjectType(
            "contacts",
            "0-1",
            "contact",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
            "contactinformation",
        ),
        ObjectType(
            "companies",
            "0-2",
            "company",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
            "companyinformation",
        ),
        ObjectType(
            "notes", "0-46", "note", ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"), "engagement"
        ),
        ObjectType(
            "tasks", "0-27", "task", ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"), "engagement"
        ),
    )
}
_ALIASES = {alias: t for t in OBJECT_TYPES.values() for alias in (t.name, t.type_id, t.singular)}


def resolve_object_type(raw: str) -> ObjectType:
    """``deals``, ``deal`` and ``0-3`` all name the same type (HubSpot accepts each in paths)."""
    found = _ALIASES.get(raw.lower())
    if found is None:
        raise validation_error(f"Unable to infer object type from: {raw}", objectType=[raw])
    return found


# (from, to) -> typeId used by "default" associations and by v3 create when no type is given.
DEFAULT_ASSOCIATION: dict[tuple[str, str], int] = {
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("tasks", "companies"): 192,
    ("companies", "tasks"): 191,
}

# typeId -> (from, to, inverse typeId, label or None). HUBSPOT_DEFINED only.
ASSOCIATION_TYPES: dict[int, tuple[str, str, int, str | None]] = {
    1: ("contacts", "companies", 2, "Primary"),
    2: ("companies", "contacts", 1, "Primary"),
    5: ("deals", "companies", 6, "Primary"),
    6: ("companies", "deals", 5, "Primary"),
    341: ("deals", "companies", 342, None),
    342: ("companies", "deals", 341, None),
}
for (_from, _to), _tid in DEFAULT_ASSOCIATION.items():
    if _tid not in ASSOCIATION_TYPES:
        ASSOCIATION_TYPES[_tid] = (_from, _to, DEFAULT_ASSOCIATION[(_to, _from)], None)


DEAL_STAGES: list[tuple[str, str, str]] = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
]


# Owners: https://developers.hubspot.com/docs/api/crm/owners
OWNERS: list[dict[str, Any]] = [
    {
        "id": "70000001",
        "email": "ada.rep@example.com",
        "firstName": "Ada",
        "lastName": "Rep",
        "userId": 9000001,
    },
    {
        "id": "70000002",
        "email": "bob.seller@example.com",
        "firstName": "Bob",
        "lastName": "Seller",
        "userId": 9000002,
    },
    {
        "id": "70000003",
        "email": "cyd.manager@example.com",
        "firstName": "Cyd",
        "lastName": "Manager",
        "userId": 9000003,
    },
]
