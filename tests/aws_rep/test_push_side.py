"""What the rep sees of cosync's own pushes (seed 001 §1, seed 002): the deal's sync stamps and a note naming
what was sent (or none with ``push_notes: false``), a task for a sync that failed and for an update held back
during AWS's review, a value emptied in HubSpot emptied in Partner Central, the contact's phone in E.164 and
the solutions re-matched. The rep acts in HubSpot; its signed webhooks reach the relay, and are redelivered
as HubSpot retries, without a second task, note or write. Partner Central is read back with boto3."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created
from tests_aws.test_contact_change import DEAL_TO_COMPANY, DEAL_TO_CONTACT, _to
from tests_aws.test_create import GOOD_DEAL

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import (
    assert_task,
    get_opportunity,
    one_task,
    property_change,
    redeliver_webhooks,
    rep_stacks,
    titled,
)

SENT = "Sent to AWS Partner Central"


def _sent_notes(stack: Stack, deal_id: str) -> list[str]:
    return [n for n in stack.notes_of(deal_id) if SENT in n]


async def _updates(stack: Stack) -> int:
    return (await stack.calls(stack.pc)).get("UpdateOpportunity", 0)


async def _deal_with(stack: Stack, company: dict[str, str], contact: dict[str, str] | None = None) -> str:
    """A tagged deal with its company (and contact), made by the rep; returns once its opportunity exists."""
    made = await stack.rep("POST", "/crm/v3/objects/companies", {"properties": company})
    links = [_to(str(made["id"]), DEAL_TO_COMPANY)]
    if contact is not None:
        person = await stack.rep("POST", "/crm/v3/objects/contacts", {"properties": contact})
        links.append(_to(str(person["id"]), DEAL_TO_CONTACT))
    deal = await stack.rep("POST", "/crm/v3/objects/deals", {"properties": GOOD_DEAL, "associations": links})
    deal_id = str(deal["id"])
    await wait_until(lambda: bool(stack.deal(deal_id).get("aws_opportunity_id")))
    await stack.settle()
    return deal_id


def _stamps(stack: Stack, deal_id: str) -> int:
    """How many times the deal's ``aws_last_sync_date`` was written (the emulator keeps every version, as
    HubSpot's ``propertiesWithHistory`` does; its value is to the second and the creation stamped it too,
    so the value alone cannot tell a push's stamp)."""
    return len(stack.hs.portal.records["deals"][deal_id].history.get("aws_last_sync_date", []))


async def test_a_push_is_stamped_and_noted_once_across_a_redelivered_webhook(rep_stack: Stack) -> None:
    stack = rep_stack
    deal_id, opp_id = await created(stack)
    before, stamps = await _updates(stack), _stamps(stack, deal_id)
    await stack.rep_update(deal_id, {"amount": "18000"})
    await wait_until(lambda: bool(_sent_notes(stack, deal_id)))
    [note] = _sent_notes(stack, deal_id)
    assert opp_id in note and "expected spend: 18000 USD" in note and "by rep" in note
    await wait_until(lambda: _stamps(stack, deal_id) == stamps + 1)  # its own batch, beside the note's
    deal = stack.deal(deal_id)
    assert deal["aws_last_sync_by"] == "rep" and deal["aws_last_sync_date"]
    assert deal["aws_opportunity_title"] == "BigCorp Cloud Migration"
    assert await redeliver_webhooks(stack, property_change(deal_id, "amount", "18000")) == 1
    await stack.quiet()
    assert len(_sent_notes(stack, deal_id)) == 1
    assert await _updates(stack) - before == 1
    assert _stamps(stack, deal_id) == stamps + 1


@pytest.fixture
async def quiet_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator, push_notes=False):
        yield s


async def test_push_notes_false_sends_the_update_without_a_note(quiet_stack: Stack) -> None:
    stack = quiet_stack
    deal_id, opp_id = await created(stack)
    stamps = _stamps(stack, deal_id)
    await stack.rep_update(deal_id, {"amount": "18000"})

    async def sent() -> bool:
        spend = (await get_opportunity(stack, opp_id))["Project"]["ExpectedCustomerSpend"]
        return bool(spend[0]["Amount"] == "18000")

    await wait_until(sent)
    await wait_until(lambda: _stamps(stack, deal_id) == stamps + 1)  # stamped still
    assert stack.deal(deal_id)["aws_last_sync_by"] == "rep"
    await stack.quiet()
    assert _sent_notes(stack, deal_id) == []


async def test_a_value_cleared_in_hubspot_is_cleared_in_partner_central(rep_stack: Stack) -> None:
    stack = rep_stack
    company = {"name": "BigCorp", "domain": "bigcorp.example", "country": "US", "city": "Seattle"}
    deal_id = await _deal_with(stack, company)
    opp_id = stack.deal(deal_id)["aws_opportunity_id"]
    address = (await get_opportunity(stack, opp_id))["Customer"]["Account"]["Address"]
    assert address["City"] == "Seattle"
    [company_id] = stack.hs.portal.associated("deals", deal_id, "companies")
    await stack.rep("PATCH", f"/crm/v3/objects/companies/{company_id}", {"properties": {"city": ""}})

    async def cleared() -> bool:
        account = (await get_opportunity(stack, opp_id))["Customer"]["Account"]
        return "City" not in account.get("Address", {})

    await wait_until(cleared)
    account = (await get_opportunity(stack, opp_id))["Customer"]["Account"]
    assert account["Address"]["CountryCode"] == "US" and account["CompanyName"] == "BigCorp"
    await wait_until(lambda: any("(cleared)" in n for n in _sent_notes(stack, deal_id)))
    # The stamp goes out in its own batch beside the note's: either may land first.
    await wait_until(lambda: bool(stack.deal(deal_id).get("aws_contact_company_last_sync")))


async def test_the_contact_phone_reaches_partner_central_in_e164(rep_stack: Stack) -> None:
    stack = rep_stack
    company = {"name": "BigCorp", "domain": "bigcorp.example", "country": "US"}
    contact = {
        "email": "ana@bigcorp.example",
        "firstname": "Ana",
        "lastname": "Lee",
        "phone": "(206) 555-0100",
    }
    deal_id = await _deal_with(stack, company, contact)
    opp_id = stack.deal(deal_id)["aws_opportunity_id"]
    [person] = (await get_opportunity(stack, opp_id))["Customer"]["Contacts"]
    assert person["Phone"] == "+12065550100"
    [contact_id] = stack.hs.portal.associated("deals", deal_id, "contacts")
    await stack.rep(
        "PATCH", f"/crm/v3/objects/contacts/{contact_id}", {"properties": {"phone": "206 555 0199"}}
    )

    async def changed() -> bool:
        contacts = (await get_opportunity(stack, opp_id))["Customer"]["Contacts"]
        return bool(contacts[0].get("Phone") == "+12065550199")

    await wait_until(changed)


async def test_a_sync_error_is_one_high_task(rep_stack: Stack) -> None:
    stack = rep_stack
    since = time.time()
    company = await stack.rep_company()
    deal_id = await stack.rep_deal({k: v for k, v in GOOD_DEAL.items() if k != "closedate"}, company)
    task = await one_task(stack, deal_id, "AWS Sync Failed")
    assert_task(task, "HIGH", 24, since)
    assert "close date" in task["hs_task_body"].lower() or "closedate" in task["hs_task_body"]
    await stack.rep_update(deal_id, {"amount": "13000"})  # the same error again
    await redeliver_webhooks(stack, lambda e: str(e.get("objectId")) == deal_id)
    await stack.settle(1.0)
    assert len(titled(stack, deal_id, "AWS Sync Failed")) == 1
    assert stack.deal(deal_id)["aws_sync_status"] == "error"


async def test_an_update_held_back_during_review_is_one_task(rep_stack: Stack) -> None:
    stack = rep_stack
    deal_id, opp_id = await created(stack)
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"catalog": "Sandbox", "ReviewStatus": "Submitted"})
    await wait_until(lambda: stack.deal(deal_id).get("aws_review_status") == "Submitted")
    since = time.time()
    before = await _updates(stack)
    await stack.rep_update(deal_id, {"description": "Move 60 databases to Amazon RDS and Aurora"})
    task = await one_task(stack, deal_id, "Changes Held Back from AWS")
    assert_task(task, "MEDIUM", 72, since)
    assert "Project.CustomerBusinessProblem" in task["hs_task_body"] and "reviewing" in task["hs_task_body"]
    await redeliver_webhooks(stack, property_change(deal_id, "description"))
    await stack.settle(1.0)
    assert len(titled(stack, deal_id, "Changes Held Back")) == 1
    assert await _updates(stack) == before
    opp = await get_opportunity(stack, opp_id)
    assert opp["Project"]["CustomerBusinessProblem"] == GOOD_DEAL["description"]


async def _solutions(stack: Stack, opp_id: str) -> list[str]:
    found: list[str] = (await get_opportunity(stack, opp_id))["RelatedEntityIdentifiers"]["Solutions"]
    return found


async def test_solutions_are_rematched_when_the_override_changes(rep_stack: Stack) -> None:
    stack = rep_stack
    deal_id, opp_id = await created(stack)
    first = await _solutions(stack, opp_id)
    active = [s for s, v in stack.pc.catalog("Sandbox").solutions.items() if v.get("Status") == "Active"]
    others = [s for s in active if s not in first]
    wanted = [first[0], *others[:2]]
    await stack.rep_update(deal_id, {"aws_solution_ids": ",".join(wanted)})

    async def matched(expected: list[str]) -> bool:
        return sorted(await _solutions(stack, opp_id)) == sorted(expected)

    await wait_until(lambda: matched(wanted))
    many = [*wanted, *[s for s in others[2:] if s not in wanted]][:12]
    assert len(many) == 12
    await stack.rep_update(deal_id, {"aws_solution_ids": ",".join(many)})
    await wait_until(lambda: matched(many[:10]))  # within the 10 an opportunity holds
    await redeliver_webhooks(stack, property_change(deal_id, "aws_solution_ids"))
    await stack.settle(1.0)
    assert sorted(await _solutions(stack, opp_id)) == sorted(many[:10])
