"""Associations v4, owners (cached), deal stages and idempotent property set-up, against the emulator."""

from __future__ import annotations

from cosync_worker.hooks.types import PropertySpec
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.hubspot.catalog import OWNERS

ASSOC_BATCH = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"


async def test_associations_single_and_batch(hubspot: HubSpotClient) -> None:
    deals = await hubspot.batch_create("deals", [{"properties": {"dealname": f"d{n}"}} for n in range(120)])
    contacts = await hubspot.batch_create(
        "contacts", [{"properties": {"email": f"c{n}@x.io"}} for n in range(3)]
    )
    first, second = deals[0]["id"], deals[1]["id"]
    for contact in contacts:
        await hubspot.associate("deals", first, "contacts", contact["id"])
    await hubspot.associate("deals", second, "contacts", contacts[0]["id"])

    assert sorted(await hubspot.associations("deals", first, "contacts")) == sorted(c["id"] for c in contacts)
    assert await hubspot.associations("deals", deals[2]["id"], "contacts") == []
    # Associations are two-way.
    assert sorted(await hubspot.associations("contacts", contacts[0]["id"], "deals")) == sorted(
        [first, second]
    )

    linked = await hubspot.batch_associations("deals", "contacts", [d["id"] for d in deals])
    assert set(linked) == {d["id"] for d in deals}
    assert sorted(linked[first]) == sorted(c["id"] for c in contacts)
    assert linked[second] == [contacts[0]["id"]]
    assert sum(1 for ids in linked.values() if ids) == 2
    assert hubspot.calls[ASSOC_BATCH] == 2  # 120 ids: chunks of 100


async def test_owner_is_cached(hubspot: HubSpotClient, emulator: HubSpotEmulator) -> None:
    known = str(OWNERS[0]["id"])
    owner = await hubspot.owner(known)
    assert owner is not None and owner["email"] == OWNERS[0]["email"]
    assert await hubspot.owner(known) == owner
    assert await hubspot.owner("55555555") is None
    assert await hubspot.owner("55555555") is None
    assert emulator.calls["GET /crm/v3/owners/{ownerId}"] == 2


async def test_deal_stages(hubspot: HubSpotClient) -> None:
    stages = await hubspot.deal_stages()
    assert "closedwon" in stages and "closedlost" in stages
    orders = [s["displayOrder"] for s in stages.values()]
    assert orders == sorted(orders)
    await hubspot.deal_stages()
    assert hubspot.calls["GET /crm/v3/pipelines/{objectType}/{pipelineId}/stages"] == 1


async def test_ensure_properties_is_idempotent(hubspot: HubSpotClient, emulator: HubSpotEmulator) -> None:
    specs = [
        PropertySpec("deals", "aws_opportunity_id", "AWS opportunity id"),
        PropertySpec(
            "deals",
            "aws_review_status",
            "AWS review status",
            type="enumeration",
            field_type="select",
            options=({"label": "Approved", "value": "Approved", "hidden": False},),
        ),
        PropertySpec("companies", "aws_account", "AWS account", group_name="cosync_aws"),
        PropertySpec("deals", "dealname", "Deal name", group_name="dealinformation"),  # HubSpot's own
    ]
    created, existing = await hubspot.ensure_properties(specs)
    assert sorted(created) == ["aws_account", "aws_opportunity_id", "aws_review_status"]
    assert existing == ["dealname"]
    first_round = sum(hubspot.calls.values())

    created, existing = await hubspot.ensure_properties(specs)
    assert created == []
    assert sorted(existing) == ["aws_account", "aws_opportunity_id", "aws_review_status", "dealname"]
    # The second round is only one batch read per object type: nothing created, no groups touched.
    assert sum(hubspot.calls.values()) - first_round == 2
    assert emulator.calls["POST /crm/v3/properties/{objectType}/batch/create"] == 2
    assert emulator.calls["POST /crm/v3/properties/{objectType}/groups"] == 2

    deal = await hubspot.create("deals", {"aws_opportunity_id": "O123", "aws_review_status": "Approved"})
    assert emulator.objects("deals")[deal["id"]]["properties"]["aws_opportunity_id"] == "O123"
