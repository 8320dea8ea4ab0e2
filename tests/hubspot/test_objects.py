"""CRM objects against the HubSpot emulator: CRUD, batches across chunk boundaries, search paging."""

from __future__ import annotations

import pytest

from cosync_worker.hubspot import HubSpotClient, HubSpotError, NotFound
from cosync_worker.sandbox.hubspot import HubSpotEmulator

BATCH_READ = "POST /crm/v3/objects/{objectType}/batch/read"
BATCH_CREATE = "POST /crm/v3/objects/{objectType}/batch/create"
BATCH_UPDATE = "POST /crm/v3/objects/{objectType}/batch/update"
SEARCH = "POST /crm/v3/objects/{objectType}/search"


async def test_create_get_update(hubspot: HubSpotClient, emulator: HubSpotEmulator) -> None:
    deal = await hubspot.create("deals", {"dealname": "Acme renewal", "amount": 1200})
    assert emulator.objects("deals")[deal["id"]]["properties"]["amount"] == "1200"

    got = await hubspot.get("deals", deal["id"], properties=["dealname", "amount"])
    assert got["properties"]["dealname"] == "Acme renewal"

    updated = await hubspot.update("deals", deal["id"], {"amount": 1500, "dealname": None})
    assert updated["properties"]["amount"] == "1500"
    assert emulator.objects("deals")[deal["id"]]["properties"]["amount"] == "1500"
    assert hubspot.calls["PATCH /crm/v3/objects/{objectType}/{objectId}"] == 1


async def test_create_with_association(hubspot: HubSpotClient) -> None:
    company = await hubspot.create("companies", {"name": "Acme"})
    deal = await hubspot.create(
        "deals",
        {"dealname": "linked"},
        associations=[
            {
                "to": {"id": company["id"]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
            }
        ],
    )
    assert await hubspot.associations("deals", deal["id"], "companies") == [company["id"]]


async def test_get_missing_raises_not_found(hubspot: HubSpotClient) -> None:
    with pytest.raises(NotFound) as info:
        await hubspot.get("deals", "123456789")
    assert info.value.status == 404
    assert info.value.category == "OBJECT_NOT_FOUND"


async def test_batches_chunk_at_100(hubspot: HubSpotClient, emulator: HubSpotEmulator) -> None:
    created = await hubspot.batch_create(
        "deals", [{"properties": {"dealname": f"bulk {n}", "amount": n}} for n in range(250)]
    )
    assert len(created) == 250 and len(emulator.objects("deals")) == 250
    assert hubspot.calls[BATCH_CREATE] == 3

    ids = [d["id"] for d in created]
    wanted = [*reversed(ids), "999999991", ids[0]]  # order, a missing id, a duplicate
    records = await hubspot.batch_read("deals", wanted, properties=["dealname"])
    assert [r["id"] for r in records] == list(reversed(ids))
    assert hubspot.calls[BATCH_READ] == 3

    updates = [{"id": i, "properties": {"dealstage": "closedwon"}} for i in ids[:150]]
    written = await hubspot.batch_update("deals", updates)
    assert [r["id"] for r in written] == ids[:150]
    assert hubspot.calls[BATCH_UPDATE] == 2
    stages = [emulator.objects("deals")[i]["properties"].get("dealstage") for i in ids]
    assert stages.count("closedwon") == 150

    assert emulator.calls[BATCH_CREATE] + emulator.calls[BATCH_READ] + emulator.calls[BATCH_UPDATE] == 8


async def test_batch_read_by_id_property(hubspot: HubSpotClient) -> None:
    await hubspot.batch_create("contacts", [{"properties": {"email": f"p{n}@example.com"}} for n in range(3)])
    records = await hubspot.batch_read(
        "contacts",
        ["p2@example.com", "nobody@example.com", "p0@example.com"],
        properties=["email"],
        id_property="email",
    )
    assert [r["properties"]["email"] for r in records] == ["p2@example.com", "p0@example.com"]


async def test_search_pages_through_all_results(hubspot: HubSpotClient) -> None:
    await hubspot.batch_create(
        "deals", [{"properties": {"dealname": f"s{n}", "amount": n}} for n in range(230)]
    )
    await hubspot.batch_create(
        "deals", [{"properties": {"dealname": "other", "amount": 5000}} for _ in range(5)]
    )
    found = await hubspot.search_all(
        "deals",
        filter_groups=[{"filters": [{"propertyName": "amount", "operator": "LT", "value": "1000"}]}],
        properties=["dealname", "amount"],
        limit=100,
    )
    assert len(found) == 230
    assert len({r["id"] for r in found}) == 230
    assert hubspot.calls[SEARCH] == 3

    first = []
    async for record in hubspot.search("deals", filter_groups=[], limit=10):
        first.append(record)
        if len(first) == 15:
            break
    assert len(first) == 15


async def test_bad_input_is_refused_before_any_call(hubspot: HubSpotClient) -> None:
    with pytest.raises(ValueError, match="object id"):
        await hubspot.get("deals", " ")
    with pytest.raises(ValueError, match="search limit"):
        await hubspot.search_all("deals", filter_groups=[], limit=500)
    with pytest.raises(ValueError, match="missing 'id'"):
        await hubspot.batch_update("deals", [{"properties": {"a": "b"}}])
    assert sum(hubspot.calls.values()) == 0


async def test_hubspot_validation_error_keeps_message(hubspot: HubSpotClient) -> None:
    with pytest.raises(HubSpotError) as info:
        await hubspot.create("deals", {"no_such_property": "x"})
    assert info.value.status == 400
    assert info.value.category == "VALIDATION_ERROR"
    assert "no_such_property" in info.value.message
    assert info.value.correlation_id


async def test_batch_update_of_missing_record_raises(hubspot: HubSpotClient) -> None:
    with pytest.raises(HubSpotError) as info:
        await hubspot.batch_update("deals", [{"id": "987654321", "properties": {"dealname": "x"}}])
    assert info.value.status in (207, 400, 404)
