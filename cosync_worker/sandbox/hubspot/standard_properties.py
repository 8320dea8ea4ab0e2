"""The HubSpot-defined properties a fresh portal has on each object type, with HubSpot's ``type`` and
``fieldType``: every one a cosync connector reads or writes, every one a seed names, and the rest of the
address/contact block around them, so a record a rep's tool (or HubSpot's own SDK) creates with standard
properties is accepted as HubSpot accepts it.

Names, types and fieldTypes: HubSpot's default property lists
(https://knowledge.hubspot.com/properties/hubspots-default-company-properties , ...-contact-properties ,
...-deal-properties) and the type/fieldType table of https://developers.hubspot.com/docs/api/crm/properties .
Industry options are HubSpot's (LinkedIn-derived) ``industry`` values; the currency options stand for the
currencies enabled in the emulated portal.
"""

from __future__ import annotations

from typing import Any

from .catalog import DEAL_STAGES, OBJECT_TYPES

__all__ = ["CURRENCIES", "INDUSTRIES", "standard_properties"]

# Set by HubSpot on every write; their definitions say so (readOnlyValue).
_READ_ONLY = ("hs_object_id", "hs_lastmodifieddate", "lastmodifieddate", "hs_createdate")

INDUSTRIES: tuple[str, ...] = (
    "ACCOUNTING", "AIRLINES_AVIATION", "ALTERNATIVE_DISPUTE_RESOLUTION", "ALTERNATIVE_MEDICINE", "ANIMATION",
    "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "ARTS_AND_CRAFTS", "AUTOMOTIVE", "AVIATION_AEROSPACE",
    "BANKING", "BIOTECHNOLOGY", "BROADCAST_MEDIA", "BUILDING_MATERIALS", "BUSINESS_SUPPLIES_AND_EQUIPMENT",
    "CAPITAL_MARKETS", "CHEMICALS", "CIVIC_SOCIAL_ORGANIZATION", "CIVIL_ENGINEERING",
    "COMMERCIAL_REAL_ESTATE", "COMPUTER_NETWORK_SECURITY", "COMPUTER_GAMES", "COMPUTER_HARDWARE",
    "COMPUTER_NETWORKING", "COMPUTER_SOFTWARE", "INTERNET", "CONSTRUCTION", "CONSUMER_ELECTRONICS",
    "CONSUMER_GOODS", "CONSUMER_SERVICES", "COSMETICS", "DAIRY", "DEFENSE_SPACE", "DESIGN",
    "EDUCATION_MANAGEMENT", "E_LEARNING", "ELECTRICAL_ELECTRONIC_MANUFACTURING", "ENTERTAINMENT",
    "ENVIRONMENTAL_SERVICES", "EVENTS_SERVICES", "EXECUTIVE_OFFICE", "FACILITIES_SERVICES", "FARMING",
    "FINANCIAL_SERVICES", "FINE_ART", "FISHERY", "FOOD_BEVERAGES", "FOOD_PRODUCTION", "FUND_RAISING",
    "FURNITURE", "GAMBLING_CASINOS", "GLASS_CERAMICS_CONCRETE", "GOVERNMENT_ADMINISTRATION",
    "GOVERNMENT_RELATIONS", "GRAPHIC_DESIGN", "HEALTH_WELLNESS_AND_FITNESS", "HIGHER_EDUCATION",
    "HOSPITAL_HEALTH_CARE", "HOSPITALITY", "HUMAN_RESOURCES", "IMPORT_AND_EXPORT",
    "INDIVIDUAL_FAMILY_SERVICES", "INDUSTRIAL_AUTOMATION", "INFORMATION_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE", "INTERNATIONAL_AFFAIRS",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT", "INVESTMENT_BANKING", "INVESTMENT_MANAGEMENT", "JUDICIARY",
    "LAW_ENFORCEMENT", "LAW_PRACTICE", "LEGAL_SERVICES", "LEGISLATIVE_OFFICE", "LEISURE_TRAVEL_TOURISM",
    "LIBRARIES", "LOGISTICS_AND_SUPPLY_CHAIN", "LUXURY_GOODS_JEWELRY", "MACHINERY", "MANAGEMENT_CONSULTING",
    "MARITIME", "MARKET_RESEARCH", "MARKETING_AND_ADVERTISING", "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "MEDIA_PRODUCTION", "MEDICAL_DEVICES", "MEDICAL_PRACTICE", "MENTAL_HEALTH_CARE", "MILITARY",
    "MINING_METALS", "MOBILE_GAMES", "MOTION_PICTURES_AND_FILM", "MUSEUMS_AND_INSTITUTIONS", "MUSIC",
    "NANOTECHNOLOGY", "NEWSPAPERS", "NON_PROFIT_ORGANIZATION_MANAGEMENT", "OIL_ENERGY", "ONLINE_MEDIA",
    "OUTSOURCING_OFFSHORING", "PACKAGE_FREIGHT_DELIVERY", "PACKAGING_AND_CONTAINERS", "PAPER_FOREST_PRODUCTS",
    "PERFORMING_ARTS", "PHARMACEUTICALS", "PHILANTHROPY", "PHOTOGRAPHY", "PLASTICS", "POLITICAL_ORGANIZATION",
    "PRIMARY_SECONDARY_EDUCATION", "PRINTING", "PROFESSIONAL_TRAINING_COACHING", "PROGRAM_DEVELOPMENT",
    "PUBLIC_POLICY", "PUBLIC_RELATIONS_AND_COMMUNICATIONS", "PUBLIC_SAFETY", "PUBLISHING",
    "RAILROAD_MANUFACTURE", "RANCHING", "REAL_ESTATE", "RECREATIONAL_FACILITIES_AND_SERVICES",
    "RELIGIOUS_INSTITUTIONS", "RENEWABLES_ENVIRONMENT", "RESEARCH", "RESTAURANTS", "RETAIL",
    "SECURITY_AND_INVESTIGATIONS", "SEMICONDUCTORS", "SHIPBUILDING", "SPORTING_GOODS", "SPORTS",
    "STAFFING_AND_RECRUITING", "SUPERMARKETS", "TELECOMMUNICATIONS", "TEXTILES", "THINK_TANKS", "TOBACCO",
    "TRANSLATION_AND_LOCALIZATION", "TRANSPORTATION_TRUCKING_RAILROAD", "UTILITIES",
    "VENTURE_CAPITAL_PRIVATE_EQUITY", "VETERINARY", "WAREHOUSING", "WHOLESALE", "WINE_AND_SPIRITS",
    "WIRELESS", "WRITING_AND_EDITING",
)  # fmt: skip

CURRENCIES: tuple[str, ...] = (
    "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "INR",
    "CNY", "HKD", "SGD", "KRW", "TWD", "BRL", "MXN", "ARS", "CLP", "COP", "ZAR", "AED", "SAR", "ILS", "TRY",
)  # fmt: skip

_LIFECYCLE = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"value": v, "label": lbl, "hidden": False, "displayOrder": i} for i, (v, lbl) in enumerate(pairs)
    ]


def _labelled(values: tuple[str, ...]) -> list[dict[str, Any]]:
    return _options([(v, v.replace("_", " ").title()) for v in values])


def _prop(name: str, label: str, type_: str = "string", field: str = "text", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field,
        "groupName": "",
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
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": name in _READ_ONLY,
        },
        **extra,
    }


def _text(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [_prop(name, label) for name, label in pairs]


def _common() -> list[dict[str, Any]]:
    return [
        _prop("createdate", "Create Date", "datetime", "date"),
        _prop("hs_createdate", "Create Date", "datetime", "date"),
        _prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
        _prop("hs_object_id", "Record ID", "number", "number"),
        _prop("hubspot_owner_id", "Owner", "enumeration", "select", externalOptions=True),
    ]


def _address() -> list[dict[str, Any]]:
    return _text(
        ("address", "Street Address"),
        ("city", "City"),
        ("state", "State/Region"),
        ("zip", "Postal Code"),
        ("country", "Country/Region"),
    )


def _deals() -> list[dict[str, Any]]:
    return [
        _prop("dealname", "Deal Name"),
        _prop("amount", "Amount", "number", "number"),
        _prop(
            "dealstage", "Deal Stage", "enumeration", "radio", options=_options([s[:2] for s in DEAL_STAGES])
        ),
        _prop(
            "pipeline", "Pipeline", "enumeration", "select", options=_options([("default", "Sales Pipeline")])
        ),
        _prop("closedate", "Close Date", "datetime", "date"),
        _prop("description", "Deal Description", field="textarea"),
        _prop(
            "deal_currency_code",
            "Currency",
            "enumeration",
            "select",
            options=_options([(c, c) for c in CURRENCIES]),
        ),
        _prop("hs_next_step", "Next step", field="textarea"),
        _prop(
            "dealtype",
            "Deal Type",
            "enumeration",
            "radio",
            options=_options([("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]),
        ),
        _prop(
            "hs_priority",
            "Priority",
            "enumeration",
            "select",
            options=_options([("low", "Low"), ("medium", "Medium"), ("high", "High")]),
        ),
        _prop("closed_lost_reason", "Closed Lost Reason", field="textarea"),
        _prop("closed_won_reason", "Closed Won Reason", field="textarea"),
    ]


def _companies() -> list[dict[str, Any]]:
    return [
        *_text(("name", "Company name"), ("domain", "Company Domain Name"), ("website", "Website URL")),
        *_address(),
        _prop("address2", "Street Address 2"),
        _prop("phone", "Phone Number", field="phonenumber"),
        _prop("industry", "Industry", "enumeration", "select", options=_labelled(INDUSTRIES)),
        _prop("description", "Description", field="textarea"),
        _prop("numberofemployees", "Number of Employees", "number", "number"),
        _prop("annualrevenue", "Annual Revenue", "number", "number"),
        _prop(
            "type",
            "Type",
            "enumeration",
            "radio",
            options=_labelled(("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")),
        ),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_options(_LIFECYCLE)),
        _prop("linkedin_company_page", "LinkedIn Company Page"),
        _prop("timezone", "Time Zone"),
    ]


def _contacts() -> list[dict[str, Any]]:
    return [
        _prop("email", "Email", hasUniqueValue=True),
        *_text(
            ("firstname", "First Name"),
            ("lastname", "Last Name"),
            ("jobtitle", "Job Title"),
            ("company", "Company Name"),
            ("website", "Website URL"),
        ),
        *_address(),
        _prop("phone", "Phone Number", field="phonenumber"),
        _prop("mobilephone", "Mobile Phone Number", field="phonenumber"),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_options(_LIFECYCLE)),
        _prop("lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ]


def _notes() -> list[dict[str, Any]]:
    return [
        _prop("hs_note_body", "Note body", field="html"),
        _prop("hs_timestamp", "Activity date", "datetime", "date"),
    ]


def _tasks() -> list[dict[str, Any]]:
    statuses = [
        ("NOT_STARTED", "Not started"),
        ("COMPLETED", "Completed"),
        ("IN_PROGRESS", "In progress"),
        ("WAITING", "Waiting"),
        ("DEFERRED", "Deferred"),
    ]
    priorities = [("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")]
    kinds = [("TODO", "To-do"), ("CALL", "Call"), ("EMAIL", "Email")]
    return [
        _prop("hs_task_subject", "Task Title"),
        _prop("hs_task_body", "Notes", field="html"),
        _prop("hs_task_status", "Task Status", "enumeration", "select", options=_options(statuses)),
        _prop("hs_task_priority", "Priority", "enumeration", "select", options=_options(priorities)),
        _prop("hs_task_type", "Task Type", "enumeration", "select", options=_options(kinds)),
        _prop("hs_timestamp", "Due date", "datetime", "date"),
    ]


_BY_TYPE = {
    "deals": _deals,
    "companies": _companies,
    "contacts": _contacts,
    "notes": _notes,
    "tasks": _tasks,
}


def standard_properties(object_type: str) -> dict[str, dict[str, Any]]:
    """Fresh copies of the HubSpot-defined property definitions of ``object_type``."""
    group = OBJECT_TYPES[object_type].group
    props = _common() + _BY_TYPE[object_type]()
    for prop in props:
        prop["groupName"] = group
    return {prop["name"]: prop for prop in props}
