"""Flow 4 for contacts: a rep edits a contact of a deal that has an opportunity; the opportunity's
``Customer.Contacts`` follows with read-merge-write, once for a burst of edits."""

from __future__ import annotations

from .conftest import Stack, wait_until
from .test_create import GOOD_DEAL

# HUBSPOT_DEFINED deal -> company (5) and deal -> contact (3):
# https://developers.hubspot.com/docs/api/crm/associations/v4#association-type-id-values
DEAL_TO_COMPANY, DEAL_TO_CONTACT = 5, 3


def _to(ident: str, type_id: int) -> dict[str, object]:
    return {
        "to": {"id": ident},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


async def test_contact_burst_updates_the_opportunity_once_and_keeps_aws_fields(stack: Stack) -> None:
    company = await stack.rep_company()
    contact = await stack.rep(
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": "ana@bigcorp.example", "firstname": "Ana", "lastname": "Lee"}},
    )
    contact_id = str(contact["id"])
    made = await stack.rep(
        "POST",
        "/crm/v3/objects/deals",
        {
            "properties": GOOD_DEAL,
            "associations": [_to(company, DEAL_TO_COMPANY), _to(contact_id, DEAL_TO_CONTACT)],
        },
    )
    deal_id = str(made["id"])

    async def created() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(created)
    opp_id = stack.deal(deal_id)["aws_opportunity_id"]
    assert stack.opportunities()[opp_id]["Customer"]["Contacts"] == [
        {"Email": "ana@bigcorp.example", "FirstName": "Ana", "LastName": "Lee"}
    ]
    await stack.settle()
    # Something only Partner Central holds, which the update must carry over.
    record = stack.opportunities()[opp_id]
    record["Project"]["AdditionalComments"] = "Customer prefers Frankfurt"
    stack.pc.catalog("Sandbox").touch(record)
    pc_before, hs_before = await stack.calls(stack.pc), await stack.calls(stack.hs)

    path = f"/crm/v3/objects/contacts/{contact_id}"
    await stack.rep("PATCH", path, {"properties": {"firstname": "Anabel"}})
    await stack.rep("PATCH", path, {"properties": {"lastname": "Lee-Park"}})
    await stack.rep("PATCH", path, {"properties": {"jobtitle": "CTO"}})

    async def applied() -> bool:
        contacts = stack.opportunities()[opp_id]["Customer"].get("Contacts") or []
        return bool(contacts) and contacts[0].get("BusinessTitle") == "CTO"

    await wait_until(applied)
    await stack.settle(1.0)
    opp = stack.opportunities()[opp_id]
    assert opp["Customer"]["Contacts"] == [
        {
            "Email": "ana@bigcorp.example",
            "FirstName": "Anabel",
            "LastName": "Lee-Park",
            "BusinessTitle": "CTO",
        }
    ]
    assert opp["Project"]["AdditionalComments"] == "Customer prefers Frankfurt"
    pc_after, hs_after = await stack.calls(stack.pc), await stack.calls(stack.hs)
    assert pc_after["UpdateOpportunity"] - pc_before.get("UpdateOpportunity", 0) == 1
    # One read for the merge, one more for the "Opportunity Updated" event our write caused (no echo write).
    assert pc_after["GetOpportunity"] - pc_before.get("GetOpportunity", 0) <= 2
    associations = {k: v - hs_before.get(k, 0) for k, v in hs_after.items() if "associations" in k}
    assert sum(associations.values()) == 1, associations  # the later events of the burst cost no HubSpot call
    # The creation note and the one push's note (seed 001 §1): nothing echoed back.
    [_, pushed] = stack.notes_of(deal_id)
    assert pushed.startswith("Sent to AWS Partner Central") and "contacts: ana@bigcorp.example" in pushed
