"""The HubSpot emulator driven by HubSpot's official Python SDK (``hubspot-api-client`` 12), one test per
operation cosync's connectors use: what the SDK accepts from HubSpot it must accept from the emulator.

The SDK is synchronous (urllib3), so each call runs in a worker thread while the emulator keeps serving
on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.notes import BatchInputSimplePublicObjectBatchInputForCreate as NotesBatchCreate
from hubspot.crm.objects.notes import SimplePublicObjectBatchInputForCreate as NoteBatchInput
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteInput
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskInput
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    BatchReadInputPropertyName,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyName,
)

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.hubspot.catalog import DEFAULT_ASSOCIATION

T = TypeVar("T")


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def sdk(hubspot_emulator: HubSpotEmulator) -> HubSpot:
    return HubSpot(access_token=hubspot_emulator.access_token, host=hubspot_emulator.base_url)


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


async def _company(sdk: HubSpot, **properties: str) -> str:
    body = SimplePublicObjectInputForCreate(properties={"name": "Acme", **properties})
    return str(
        (await call(sdk.crm.companies.basic_api.create, simple_public_object_input_for_create=body)).id
    )


async def _deal(sdk: HubSpot, company_id: str | None = None, **properties: str) -> str:
    links = [_association(company_id, DEFAULT_ASSOCIATION[("deals", "companies")])] if company_id else []
    body = SimplePublicObjectInputForCreate(
        properties={"dealname": "Acme #AWS", "dealstage": "appointmentscheduled", **properties},
        associations=links,
    )
    return str((await call(sdk.crm.deals.basic_api.create, simple_public_object_input_for_create=body)).id)


# -- standard properties a connector reads or a seed names ------------------------------------------
async def test_company_with_every_standard_address_property(sdk: HubSpot) -> None:
    # seed 002 §1: address -> Customer.Account.Address.StreetAddress, and the rest of the address block
    address = {
        "address": "1 Main St",
        "address2": "Suite 5",
        "city": "Seattle",
        "state": "WA",
        "zip": "98101",
        "country": "United States",
        "industry": "COMPUTER_SOFTWARE",
        "website": "https://acme.example",
        "domain": "acme.example",
        "phone": "+1 206 555 0100",
    }
    company_id = await _company(sdk, **address)
    read = await call(sdk.crm.companies.basic_api.get_by_id, company_id, properties=list(address))
    assert {k: read.properties[k] for k in address} == address


async def test_contact_with_standard_properties(sdk: HubSpot) -> None:
    props = {
        "email": "ada@acme.example",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "jobtitle": "CTO",
        "phone": "+1 206 555 0101",
        "mobilephone": "+1 206 555 0102",
        "address": "1 Main St",
        "city": "Seattle",
        "country": "United States",
    }
    body = SimplePublicObjectInputForCreate(properties=props)
    created = await call(sdk.crm.contacts.basic_api.create, simple_public_object_input_for_create=body)
    read = await call(sdk.crm.contacts.basic_api.get_by_id, created.id, properties=list(props))
    assert {k: read.properties[k] for k in props} == props


async def test_standard_property_definitions_carry_hubspots_types(sdk: HubSpot) -> None:
    expected = {
        ("companies", "address"): ("string", "text"),
        ("companies", "industry"): ("enumeration", "select"),
        ("companies", "phone"): ("string", "phonenumber"),
        ("companies", "description"): ("string", "textarea"),
        ("contacts", "phone"): ("string", "phonenumber"),
        ("deals", "deal_currency_code"): ("enumeration", "select"),
        ("deals", "hs_next_step"): ("string", "textarea"),
        ("deals", "closedate"): ("datetime", "date"),
        ("deals", "amount"): ("number", "number"),
    }
    for (object_type, name), kinds in expected.items():
        prop = await call(sdk.crm.properties.core_api.get_by_name, object_type, name)
        assert (prop.type, prop.field_type) == kinds, (object_type, name)
        assert prop.hubspot_defined is True


async def test_an_industry_outside_hubspots_options_is_refused(sdk: HubSpot) -> None:
    from hubspot.crm.companies.exceptions import ApiException

    with pytest.raises(ApiException) as caught:
        await _company(sdk, industry="Software")
    assert caught.value.status == 400
    assert "INVALID_OPTION" in caught.value.body


# -- objects: basic -----------------------------------------------------------------------------------
async def test_create_and_get_a_deal_with_associations(sdk: HubSpot) -> None:
    company_id = await _company(sdk)
    deal_id = await _deal(sdk, company_id, amount="1200", closedate="2030-01-31T00:00:00Z")
    deal = await call(
        sdk.crm.deals.basic_api.get_by_id,
        deal_id,
        properties=["dealname", "amount", "closedate"],
        associations=["companies"],
    )
    assert deal.properties["amount"] == "1200"
    assert deal.properties["closedate"] == "2030-01-31T00:00:00.000Z"
    assert [a.id for a in deal.associations["companies"].results] == [company_id]


async def test_update_a_deal(sdk: HubSpot) -> None:
    deal_id = await _deal(sdk)
    body = SimplePublicObjectInput(properties={"dealstage": "qualifiedtobuy", "hs_next_step": "call"})
    updated = await call(sdk.crm.deals.basic_api.update, deal_id, simple_public_object_input=body)
    assert updated.id == deal_id
    again = await call(sdk.crm.deals.basic_api.get_by_id, deal_id, properties=["dealstage", "hs_next_step"])
    assert (again.properties["dealstage"], again.properties["hs_next_step"]) == ("qualifiedtobuy", "call")


async def test_list_deals_page(sdk: HubSpot) -> None:
    ids = [await _deal(sdk, dealname=f"d{i}") for i in range(3)]
    page = await call(sdk.crm.deals.basic_api.get_page, limit=2, properties=["dealname"])
    assert [d.id for d in page.results] == ids[:2]
    rest = await call(sdk.crm.deals.basic_api.get_page, limit=2, after=page.paging.next.after)
    assert [d.id for d in rest.results] == ids[2:]


# -- objects: batch -----------------------------------------------------------------------------------
async def test_batch_read_companies(sdk: HubSpot) -> None:
    company_id = await _company(sdk, address="1 Main St", country="Germany")
    body = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=company_id)],
        properties=["name", "address", "country"],
        properties_with_history=[],
    )
    answer = await call(sdk.crm.companies.batch_api.read, batch_read_input_simple_public_object_id=body)
    assert answer.status == "COMPLETE"
    [company] = answer.results
    assert company.properties["address"] == "1 Main St"


async def test_batch_create_contacts(sdk: HubSpot) -> None:
    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(properties={"email": f"c{i}@acme.example"})
            for i in range(2)
        ]
    )
    answer = await call(
        sdk.crm.contacts.batch_api.create, batch_input_simple_public_object_batch_input_for_create=body
    )
    assert sorted(c.properties["email"] for c in answer.results) == ["c0@acme.example", "c1@acme.example"]


async def test_batch_update_deals(sdk: HubSpot) -> None:
    deal_ids = [await _deal(sdk) for _ in range(2)]
    body = BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties={"amount": "99"}) for i in deal_ids]
    )
    answer = await call(sdk.crm.deals.batch_api.update, batch_input_simple_public_object_batch_input=body)
    assert sorted(d.id for d in answer.results) == sorted(deal_ids)
    assert {d.properties["amount"] for d in answer.results} == {"99"}


async def test_search_deals(sdk: HubSpot) -> None:
    # the filters the connectors use: EQ, IN, HAS_PROPERTY and LT on a date, sorted and paged
    await _deal(sdk, dealname="Other deal", amount="5")
    small = await _deal(sdk, dealname="Acme #AWS", amount="10")
    big = await _deal(sdk, dealname="Beta #AWS", amount="20")
    await _deal(sdk, dealname="Gamma #AWS")
    filters = [
        Filter(property_name="dealname", operator="IN", values=["Acme #AWS", "Beta #AWS", "Gamma #AWS"]),
        Filter(property_name="amount", operator="HAS_PROPERTY"),
        Filter(property_name="createdate", operator="LT", value=str(4_102_444_800_000)),
        Filter(property_name="pipeline", operator="NEQ", value="elsewhere"),
    ]
    body = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=filters)],
        sorts=["-amount"],
        properties=["dealname", "amount"],
        limit=1,
        after="0",
    )
    first = await call(sdk.crm.deals.search_api.do_search, public_object_search_request=body)
    assert (first.total, [d.id for d in first.results]) == (2, [big])
    body.after = first.paging.next.after
    second = await call(sdk.crm.deals.search_api.do_search, public_object_search_request=body)
    assert [d.id for d in second.results] == [small]
    exact = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(filters=[Filter(property_name="hs_object_id", operator="EQ", value=small)])
        ]
    )
    assert [
        d.id
        for d in (await call(sdk.crm.deals.search_api.do_search, public_object_search_request=exact)).results
    ] == [small]


# -- notes and tasks ----------------------------------------------------------------------------------
async def test_create_a_note_on_a_deal(sdk: HubSpot) -> None:
    deal_id = await _deal(sdk)
    note = NoteInput(
        properties={"hs_note_body": "<p>AWS approved</p>", "hs_timestamp": "2030-01-01T00:00:00Z"},
        associations=[_association(deal_id, DEFAULT_ASSOCIATION[("notes", "deals")])],
    )
    created = await call(sdk.crm.objects.notes.basic_api.create, simple_public_object_input_for_create=note)
    linked = await call(sdk.crm.associations.v4.basic_api.get_page, "notes", created.id, "deals")
    assert [str(r.to_object_id) for r in linked.results] == [deal_id]


async def test_batch_create_notes(sdk: HubSpot) -> None:
    deal_id = await _deal(sdk)
    body = NotesBatchCreate(
        inputs=[
            NoteBatchInput(
                properties={"hs_note_body": f"note {i}", "hs_timestamp": "2030-01-01T00:00:00Z"},
                associations=[_association(deal_id, DEFAULT_ASSOCIATION[("notes", "deals")])],
            )
            for i in range(2)
        ]
    )
    answer = await call(
        sdk.crm.objects.notes.batch_api.create, batch_input_simple_public_object_batch_input_for_create=body
    )
    assert len(answer.results) == 2


async def test_create_a_task_on_a_deal(sdk: HubSpot) -> None:
    deal_id = await _deal(sdk)
    task = TaskInput(
        properties={
            "hs_task_subject": "Accept the AWS invitation",
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_task_type": "TODO",
            "hs_timestamp": "2030-01-01T00:00:00Z",
            "hubspot_owner_id": "70000001",
        },
        associations=[_association(deal_id, DEFAULT_ASSOCIATION[("tasks", "deals")])],
    )
    created = await call(sdk.crm.objects.tasks.basic_api.create, simple_public_object_input_for_create=task)
    read = await call(sdk.crm.objects.tasks.basic_api.get_by_id, created.id, properties=["hs_task_priority"])
    assert read.properties["hs_task_priority"] == "HIGH"


# -- associations v4 ----------------------------------------------------------------------------------
async def test_associate_default_and_list(sdk: HubSpot) -> None:
    company_id, deal_id = await _company(sdk), await _deal(sdk)
    answer = await call(
        sdk.crm.associations.v4.basic_api.create_default, "deals", deal_id, "companies", company_id
    )
    assert answer.status == "COMPLETE"
    linked = await call(sdk.crm.associations.v4.basic_api.get_page, "deals", deal_id, "companies")
    assert [str(r.to_object_id) for r in linked.results] == [company_id]


async def test_batch_read_associations(sdk: HubSpot) -> None:
    company_id = await _company(sdk)
    deal_id = await _deal(sdk, company_id)
    body = BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id=deal_id)]
    )
    answer = await call(
        sdk.crm.associations.v4.batch_api.get_page,
        "deals",
        "companies",
        batch_input_public_fetch_associations_batch_request=body,
    )
    [row] = answer.results
    assert row._from.id == deal_id
    assert [str(t.to_object_id) for t in row.to] == [company_id]


# -- properties ---------------------------------------------------------------------------------------
async def test_property_groups_list_and_create(sdk: HubSpot) -> None:
    group = PropertyGroupCreate(name="cosync", label="cosync", display_order=-1)
    created = await call(sdk.crm.properties.groups_api.create, "deals", property_group_create=group)
    assert created.name == "cosync"
    groups = await call(sdk.crm.properties.groups_api.get_all, "deals")
    assert "cosync" in {g.name for g in groups.results}


async def test_create_and_read_a_property(sdk: HubSpot) -> None:
    prop = PropertyCreate(
        name="aws_sync_status",
        label="AWS sync status",
        type="string",
        field_type="text",
        group_name="dealinformation",
    )
    created = await call(sdk.crm.properties.core_api.create, "deals", property_create=prop)
    assert created.hubspot_defined is False
    read = await call(sdk.crm.properties.core_api.get_by_name, "deals", "aws_sync_status")
    assert (read.type, read.field_type) == ("string", "text")


async def test_batch_create_and_batch_read_properties(sdk: HubSpot) -> None:
    inputs = [
        PropertyCreate(name=n, label=n, type="string", field_type="text", group_name="dealinformation")
        for n in ("aws_opportunity_id", "aws_sync_error")
    ]
    created = await call(
        sdk.crm.properties.batch_api.create,
        "deals",
        batch_input_property_create=BatchInputPropertyCreate(inputs=inputs),
    )
    assert sorted(p.name for p in created.results) == ["aws_opportunity_id", "aws_sync_error"]
    body = BatchReadInputPropertyName(archived=False, inputs=[PropertyName(name="aws_opportunity_id")])
    read = await call(sdk.crm.properties.batch_api.read, "deals", batch_read_input_property_name=body)
    assert [p.name for p in read.results] == ["aws_opportunity_id"]


# -- owners and pipelines -----------------------------------------------------------------------------
async def test_list_owners(sdk: HubSpot, hubspot_emulator: HubSpotEmulator) -> None:
    # the SDK asks for GET /crm/v3/owners/ (trailing slash), as HubSpot accepts
    page = await call(sdk.crm.owners.owners_api.get_page, email="ada.rep@example.com")
    assert [o.email for o in page.results] == ["ada.rep@example.com"]
    assert hubspot_emulator.calls["GET /crm/v3/owners"] == 1  # counted as the route without the slash


async def test_get_an_owner(sdk: HubSpot) -> None:
    owner = await call(sdk.crm.owners.owners_api.get_by_id, 70000001)
    assert (owner.id, owner.first_name, owner.user_id) == ("70000001", "Ada", 9000001)


async def test_deal_pipeline_stages(sdk: HubSpot) -> None:
    stages = await call(sdk.crm.pipelines.pipeline_stages_api.get_all, "deals", "default")
    assert "closedwon" in {s.id for s in stages.results}
    pipeline = await call(sdk.crm.pipelines.pipelines_api.get_by_id, "deals", "default")
    assert pipeline.label == "Sales Pipeline"


async def test_rep_edit_through_the_sdk_is_attributed_to_the_ui(
    sdk: HubSpot, hubspot_emulator: HubSpotEmulator
) -> None:
    deal_id = await _deal(sdk)
    rep = HubSpot(access_token=hubspot_emulator.user_token, host=hubspot_emulator.base_url)
    body = SimplePublicObjectInput(properties={"amount": "500"})
    await call(rep.crm.deals.basic_api.update, deal_id, simple_public_object_input=body)
    read = await call(sdk.crm.deals.basic_api.get_by_id, deal_id, properties_with_history=["amount"])
    assert read.properties_with_history["amount"][0].source_type == "CRM_UI"
