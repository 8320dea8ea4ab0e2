"""The pure decisions behind the rep's notices and the deal's AWS fields (no I/O)."""

from __future__ import annotations

from cosync_aws.config import AwsConfig
from cosync_aws.mapping import create_request, e164, merge_update, owned_from_hubspot, with_cleared
from cosync_aws.notices import level_notice, review_notices, seller_notice
from cosync_aws.pushes import push_properties, sync_by
from cosync_aws.solutions import MAX_SOLUTIONS, rematch_plan

CONFIG = AwsConfig()


def _record(status: str, comments: str = "") -> dict[str, object]:
    return {"LifeCycle": {"ReviewStatus": status, "ReviewComments": comments}}


def test_review_status_is_told_once_per_change_and_again_when_it_recurs() -> None:
    found, told = review_notices("d1", "O1", _record("Pending Submission"), {}, "Co-Sell")
    assert found == []  # the first status seen is the baseline
    found, told = review_notices("d1", "O1", _record("Submitted"), told, "Co-Sell")
    assert [n.kind for n in found] == ["aws.submission_confirmed", "aws.review_status"]
    found, told = review_notices("d1", "O1", _record("Action Required", "Add the use case"), told, "Co-Sell")
    assert [n.kind for n in found] == ["aws.review_status"]
    assert found[0].facts["feedback"] == "Add the use case"
    first_key = found[0].key
    again, same = review_notices("d1", "O1", _record("Action Required", "Add the use case"), told, "Co-Sell")
    assert again == [] and same == told  # a redelivery or a reconcile of the same record
    _, told = review_notices("d1", "O1", _record("Submitted"), told, "Co-Sell")
    back, _ = review_notices("d1", "O1", _record("Action Required", "Add the use case"), told, "Co-Sell")
    assert back[0].key != first_key  # the same status later is a new task


def test_engagement_levels_and_seller() -> None:
    up, told = level_notice("d1", "O1", "Medium", "High", {}, "any")
    assert up is not None and up.facts == {"opportunity_id": "O1", "old_level": "Medium", "new_level": "High"}
    down, told = level_notice("d1", "O1", "High", "Low", told, "any")
    assert down is not None and down.facts["old_level"] == "High"
    none, _ = level_notice("d1", "O1", "Low", "Low", told, "any")
    assert none is None
    muted, after = level_notice("d1", "O1", None, "Medium", told, "down")
    assert muted is None and after["level"]["value"] == "Medium"
    summary = {"OpportunityTeam": [{"FirstName": "Ana", "LastName": "Ng", "Email": "ana@amazon.example"}]}
    seller, told = seller_notice("d1", "O1", summary, {})
    assert seller is not None and seller.facts["seller_email"] == "ana@amazon.example"
    assert seller_notice("d1", "O1", summary, told)[0] is None


def test_phone_is_e164_or_left_out() -> None:
    assert e164("+1 (555) 010-0199") == "+15550100199"
    assert e164("555-010-0199", "US") == "+15550100199"
    assert e164("0049 30 1234567", "US") == "+49301234567"
    assert e164("030 1234567", "DE") == "+49301234567"
    assert e164("12345", "ZZ") is None
    contact = {"email": "a@x.example", "phone": "(555) 010-0199"}
    owned = owned_from_hubspot({"dealname": "X"}, {"name": "C", "country": "US"}, [contact], CONFIG)
    assert owned["Customer.Contacts"] == [{"Email": "a@x.example", "Phone": "+15550100199"}]


def test_a_cleared_value_is_left_out_of_the_full_replace() -> None:
    previous = {"Customer.Account.Address.City": "Berlin", "Project.Title": "T"}
    owned = with_cleared({"Project.Title": "T"}, previous)
    assert owned == {"Project.Title": "T", "Customer.Account.Address.City": None}
    current = {
        "Id": "O1",
        "LastModifiedDate": "2026-01-01T00:00:00Z",
        "Customer": {"Account": {"CompanyName": "C", "Address": {"City": "Berlin", "CountryCode": "DE"}}},
        "LifeCycle": {"Stage": "Prospect"},
    }
    request = merge_update(current, {"Customer.Account.Address.City": None})
    assert request["Customer"]["Account"]["Address"] == {"CountryCode": "DE"}
    assert "City" not in str(create_request(owned, "1", CONFIG))
    assert with_cleared(owned, owned) == owned  # kept cleared: the next push compares equal


def test_rematch_plan_removes_first_and_stays_within_ten() -> None:
    assert rematch_plan(["S-1", "S-2"], ["S-2", "S-3"]) == (["S-3"], ["S-1"])
    full = [f"S-{i}" for i in range(MAX_SOLUTIONS)]
    add, remove = rematch_plan(full, [*full[1:], "S-new", "S-extra"])
    assert remove == ["S-0"] and add == ["S-new"]


def test_sync_by_and_push_properties() -> None:
    assert sync_by("deal.propertyChange", "cosync") == "rep"
    assert sync_by("partnercentral.opportunity_updated", "cosync") == "AWS"
    assert sync_by("aws.submit_opportunity", "ops@partner.example") == "ops@partner.example"
    props = push_properties({"Project.Title": {"new": "T"}, "Customer.Contacts": {"new": []}}, "rep")
    assert props["aws_opportunity_title"] == "T" and props["aws_last_sync_by"] == "rep"
    assert props["aws_contact_company_last_sync"] == props["aws_last_sync_date"]
