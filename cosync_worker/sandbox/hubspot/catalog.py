"""What a fresh HubSpot portal already has: object types, standard properties, association types, owners
and the default deal pipeline.

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
    "standard_properties",
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


def _prop(
    name: str, label: str, type_: str = "string", field: str = "text", group: str = "", **extra: Any
) -> dict[str, Any]:
    read_only = name in ("hs_object_id", "hs_lastmodifieddate", "lastmodifieddate", "hs_createdate")
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field,
        "groupName": group,
        "description": extra.pop("description", ""),
        "options": extra.pop("options", []),
        "displayOrder": -1,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "formField": False,
        "calculated": False,
        "externalOptions": False,
        "hubspotDefined": True,
        "archived": False,
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only},
        **extra,
    }


DEAL_STAGES: list[tuple[str, str, str]] = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
]


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"value": v, "label": lbl, "hidden": False, "displayOrder": i} for i, (v, lbl) in enumerate(pairs)
    ]


def standard_properties(object_type: str) -> dict[str, dict[str, Any]]:
    """Fresh copies of the standard property definitions of ``object_type``."""
    group = OBJECT_TYPES[object_type].group
    p: list[dict[str, Any]] = [
        _prop("createdate", "Create Date", "datetime", "date"),
        _prop("hs_createdate", "Create Date", "datetime", "date"),
        _prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
        _prop("hs_object_id", "Record ID", "number", "number"),
        _prop("hubspot_owner_id", "Owner", "enumeration", "select", externalOptions=True),
    ]
    if object_type == "deals":
        p += [
            _prop("dealname", "Deal Name"),
            _prop("amount", "Amount", "number", "number"),
            _prop(
                "dealstage",
                "Deal Stage",
                "enumeration",
                "radio",
                options=_options([s[:2] for s in DEAL_STAGES]),
            ),
            _prop(
                "pipeline",
                "Pipeline",
                "enumeration",
                "select",
                options=_options([("default", "Sales Pipeline")]),
            ),
            _prop("closedate", "Close Date", "datetime", "date"),
            _prop("description", "Deal Description", field="textarea"),
            _prop("deal_currency_code", "Currency", "enumeration", "select"),
            _prop("hs_next_step", "Next step", field="textarea"),
        ]
    elif object_type == "contacts":
        p += [
            _prop(n, lbl)
            for n, lbl in (
                ("firstname", "First Name"),
                ("lastname", "Last Name"),
                ("phone", "Phone Number"),
                ("jobtitle", "Job Title"),
                ("company", "Company Name"),
            )
        ]
        p += [
            _prop("email", "Email", hasUniqueValue=True),
            _prop("lastmodifieddate", "Last Modified Date", "datetime", "date"),
        ]
    elif object_type == "companies":
        p += [
            _prop(n, lbl)
            for n, lbl in (
                ("name", "Name"),
                ("domain", "Company Domain Name"),
                ("website", "Website URL"),
                ("industry", "Industry"),
                ("country", "Country/Region"),
                ("city", "City"),
                ("state", "State/Region"),
                ("zip", "Postal Code"),
                ("description", "Description"),
            )
        ]
        p += [
            _prop("numberofemployees", "Number of Employees", "number", "number"),
            _prop("annualrevenue", "Annual Revenue", "number", "number"),
        ]
    elif object_type == "notes":
        p += [
            _prop("hs_note_body", "Note body", field="html"),
            _prop("hs_timestamp", "Activity date", "datetime", "date"),
        ]
    elif object_type == "tasks":
        p += [
            _prop("hs_task_subject", "Task Title"),
            _prop("hs_task_body", "Notes", field="html"),
            _prop(
                "hs_task_status",
                "Task Status",
                "enumeration",
                "select",
                options=_options(
                    [
                        ("NOT_STARTED", "Not started"),
                        ("COMPLETED", "Completed"),
                        ("IN_PROGRESS", "In progress"),
                        ("WAITING", "Waiting"),
                        ("DEFERRED", "Deferred"),
                    ]
                ),
            ),
            _prop(
                "hs_task_priority",
                "Priority",
                "enumeration",
                "select",
                options=_options([("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")]),
            ),
            _prop(
                "hs_task_type",
                "Task Type",
                "enumeration",
                "select",
                options=_options([("TODO", "To-do"), ("CALL", "Call"), ("EMAIL", "Email")]),
            ),
            _prop("hs_timestamp", "Due date", "datetime", "date"),
        ]
    for prop in p:
        prop["groupName"] = group
    return {prop["name"]: prop for prop in p}


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
