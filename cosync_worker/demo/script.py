"""The demo's book of deals and the script both sides play: a rep in HubSpot, AWS, Microsoft and Google."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEALS", "DemoDeal"]


@dataclass(frozen=True)
class DemoDeal:
    name: str
    amount: str
    stage: str
    company: dict[str, str]
    contact: dict[str, str]
    clouds: tuple[str, ...] = ()
    edits: dict[str, str] = field(default_factory=dict)


DEALS: tuple[DemoDeal, ...] = (
    DemoDeal(
        "Acme Analytics Platform #AWS",
        "250000",
        "qualifiedtobuy",
        {
            "name": "Acme Analytics",
            "domain": "acme-analytics.example",
            "website": "https://acme-analytics.example",
            "industry": "COMPUTER_SOFTWARE",
            "country": "US",
            "city": "Seattle",
            "state": "WA",
            "zip": "98101",
        },
        {"firstname": "Ada", "lastname": "Ng", "email": "ada@acme-analytics.example", "jobtitle": "CTO"},
        ("aws",),
        {"amount": "275000", "dealstage": "presentationscheduled"},
    ),
    DemoDeal(
        "Globex Data Lake #GCP",
        "180000",
        "appointmentscheduled",
        {
            "name": "Globex",
            "domain": "globex.example",
            "website": "https://globex.example",
            "industry": "FINANCIAL_SERVICES",
            "country": "US",
            "city": "Austin",
            "state": "TX",
            "zip": "73301",
        },
        {"firstname": "Grace", "lastname": "Hopper", "email": "grace@globex.example", "jobtitle": "VP Data"},
        ("gcp",),
        {"amount": "195000"},
    ),
    DemoDeal(
        "Initech Copilot Rollout #Microsoft",
        "90000",
        "qualifiedtobuy",
        {
            "name": "Initech",
            "domain": "initech.example",
            "website": "https://initech.example",
            "industry": "INFORMATION_TECHNOLOGY_AND_SERVICES",
            "country": "US",
            "city": "Dallas",
            "state": "TX",
            "zip": "75201",
        },
        {
            "firstname": "Peter",
            "lastname": "Gibbons",
            "email": "peter@initech.example",
            "jobtitle": "IT Director",
        },
        ("microsoft",),
        {"dealstage": "presentationscheduled"},
    ),
    DemoDeal(
        "Umbrella Cloud Migration #AWS #GCP #Microsoft",
        "1200000",
        "presentationscheduled",
        {
            "name": "Umbrella Corp",
            "domain": "umbrella.example",
            "website": "https://umbrella.example",
            "industry": "HOSPITAL_HEALTH_CARE",
            "country": "US",
            "city": "Raccoon City",
            "state": "MO",
            "zip": "63101",
        },
        {"firstname": "Alice", "lastname": "Abernathy", "email": "alice@umbrella.example", "jobtitle": "CIO"},
        ("aws", "gcp", "microsoft"),
        {"closedate": "2027-03-31"},
    ),
    DemoDeal(
        "Hooli Internal Tools",
        "40000",
        "appointmentscheduled",
        {
            "name": "Hooli",
            "domain": "hooli.example",
            "website": "https://hooli.example",
            "industry": "INTERNET",
            "country": "US",
            "city": "Palo Alto",
            "state": "CA",
            "zip": "94301",
        },
        {"firstname": "Gavin", "lastname": "Belson", "email": "gavin@hooli.example", "jobtitle": "CEO"},
    ),
)

AWS_INVITATION: dict[str, Any] = {
    "catalog": "Sandbox",
    "customer": {
        "CompanyName": "Stark Industries",
        "CountryCode": "US",
        "Industry": "Aerospace",
        "WebsiteUrl": "https://stark.example",
    },
    "project": {
        "Title": "Stark GenAI Assistant",
        "CustomerBusinessProblem": "Engineers lose hours searching design archives; a generative AI assistant over the archive would cut that time.",
        "ExpectedCustomerSpend": [
            {"Amount": "50000", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}
        ],
    },
}

MICROSOFT_REFERRAL: dict[str, Any] = {
    "name": "Wayne Enterprises Security Modernisation",
    "customerProfile": {
        "name": "Wayne Enterprises",
        "address": {"country": "US", "city": "Gotham"},
        "team": [{"firstName": "Lucius", "lastName": "Fox", "email": "lucius@wayne.example"}],
    },
    "details": {"dealValue": 300000, "currency": "USD", "notes": "Inbound from Microsoft seller"},
}
