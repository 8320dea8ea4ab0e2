"""The ``aws`` connector's part in ``cosync demo``: its deal, an engagement invitation and an approval, played
through the Partner Central emulator's operator API (``/_sandbox/...``)."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import DemoAction, DemoCloudSpec, DemoDeal

__all__ = ["DEMO", "INVITATION"]

EMULATOR = "partnercentral"

INVITATION: dict[str, Any] = {
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


async def _invite(stack: Any, http: Any) -> None:
    async with http.post(f"{stack.emulators[EMULATOR].base_url}/_sandbox/invitations", json=INVITATION) as r:
        r.raise_for_status()


async def _approve(stack: Any, http: Any) -> None:
    emulator = stack.emulators[EMULATOR]
    for record in emulator.opportunities("Sandbox").values():
        async with http.post(
            f"{emulator.base_url}/_sandbox/opportunities/{record.get('Id')}",
            json={"ReviewStatus": "Approved", "EngagementScore": "High"},
        ) as r:
            r.raise_for_status()
        break


DEMO = DemoCloudSpec(
    connector="aws",
    label="AWS",
    deal_tag="#AWS",
    id_property="aws_opportunity_id",
    status_property="aws_sync_status",
    deal=DemoDeal(
        "Acme Analytics Platform",
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
        edits={"amount": "275000", "dealstage": "presentationscheduled"},
    ),
    incoming=(
        DemoAction(
            "AWS sends an engagement invitation",
            _invite,
            lands_as=str(INVITATION["project"]["Title"]),
            result="AWS invitation -> HubSpot deal",
        ),
    ),
    reviews=(DemoAction("AWS approves an opportunity", _approve),),
)
