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


BATCH_READ = "POST /crm/v3/objects/{objectType}/batch/read"
DEAL_GET = "GET /crm/v3/objects/{objectType}/{objectId}"


async def test_a_deal_edit_reads_its_company_only_when_the_deal_names_another(stack: Stack) -> None:
    """Issue 22: a push for a change of the deal's own properties reuses the company and contacts its last
    full read saw while the deal is associated with the same ones (their own changes have their own
    webhook, flow 4, which reads them); a deal moved to another company reads that one at its next edit.
    An edit whose turn comes at once is pushed from its webhook's value: the deal is not read either."""
    first = await stack.rep_company("BigCorp", "bigcorp.example")
    second = await stack.rep_company(
        "OtherCorp", "othercorp.example"
    )  # made now: its creation pushes nothing
    deal_id = await stack.rep_deal(GOOD_DEAL, first)

    async def created() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(created)
    opp_id = stack.deal(deal_id)["aws_opportunity_id"]
    await stack.quiet()

    async def edit(amount: str) -> dict[str, int]:
        before = await stack.calls(stack.hs)
        await stack.rep_update(deal_id, {"amount": amount})

        async def pushed() -> bool:
            spend = stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"]
            return bool(spend) and spend[0]["Amount"] == amount

        await wait_until(pushed)
        await stack.quiet()
        after = await stack.calls(stack.hs)
        return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}

    first_push = await edit("13000")
    assert (first_push.get(DEAL_GET), first_push.get(BATCH_READ)) == (1, 1)  # after the creation: a full read
    second_push = await edit("14000")
    assert (second_push.get(DEAL_GET), second_push.get(BATCH_READ)) == (None, None)  # from the webhook

    # The rep edits the company (flow 4 reads it and pushes it), then the deal: the copy is the new one.
    await stack.rep("PATCH", f"/crm/v3/objects/companies/{first}", {"properties": {"name": "BigCorp Group"}})

    async def renamed() -> bool:
        return stack.opportunities()[opp_id]["Customer"]["Account"].get("CompanyName") == "BigCorp Group"

    await wait_until(renamed)
    await stack.quiet()
    after_rename = await edit("15000")
    assert (after_rename.get(DEAL_GET), after_rename.get(BATCH_READ)) == (None, None)
    assert stack.opportunities()[opp_id]["Customer"]["Account"]["CompanyName"] == "BigCorp Group"

    # The deal moves to another company (its deal.associationChange drops the copy): its next edit reads
    # and sends that one.
    path = f"/crm/v4/objects/deals/{deal_id}/associations"
    await stack.rep("DELETE", f"{path}/companies/{first}")
    await stack.rep("PUT", f"{path}/default/companies/{second}")
    await stack.quiet()
    moved = await edit("16000")
    assert (moved.get(DEAL_GET), moved.get(BATCH_READ)) == (1, 1)
    account = stack.opportunities()[opp_id]["Customer"]["Account"]
    assert (account["CompanyName"], account.get("WebsiteUrl")) == ("OtherCorp", "https://othercorp.example")
