"""The pure mapping functions, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cosync_aws.config import AwsConfig
from cosync_aws.mapping import (
    create_request,
    hubspot_view,
    merge_update,
    missing_fields,
    owned_from_hubspot,
    owned_view,
    review_rules,
    strip_tag,
)
from pydantic import ValidationError

CONFIG = AwsConfig()
DEAL = {
    "dealname": "Acme ML platform #AWS",
    "description": "Train models on SageMaker instead of the on-prem GPU cluster",
    "dealstage": "contractsent",
    "closedate": "2031-03-01T00:00:00.000Z",
    "amount": "5000.50",
    "deal_currency_code": "eur",
}
COMPANY = {"name": "Acme", "domain": "acme.example", "country": "Germany", "industry": "COMPUTER_SOFTWARE"}
CONTACTS = [{"email": "b@acme.example", "firstname": "Bo"}, {"email": "a@acme.example", "lastname": "Al"}]


def test_owned_fields_follow_the_seed_table() -> None:
    owned = owned_from_hubspot(DEAL, COMPANY, CONTACTS, CONFIG)
    assert owned["Project.Title"] == "Acme ML platform"
    assert owned["LifeCycle.Stage"] == "Committed"
    assert owned["LifeCycle.TargetCloseDate"] == "2031-03-01"
    assert owned["Project.ExpectedCustomerSpend"] == [
        {"Amount": "5000.5", "CurrencyCode": "EUR", "Frequency": "Monthly", "TargetCompany": "AWS"}
    ]
    assert owned["Customer.Account.Address.CountryCode"] == "DE"
    assert owned["Customer.Account.Industry"] == "Software and Internet"
    assert [c["Email"] for c in owned["Customer.Contacts"]] == ["a@acme.example", "b@acme.example"]


def test_create_request_round_trips_through_owned_view() -> None:
    owned = owned_from_hubspot(DEAL, COMPANY, CONTACTS, CONFIG)
    request = create_request(owned, "42", CONFIG)
    assert request["ClientToken"] == "cosync-deal-42"
    assert request["Origin"] == "Partner Referral"
    assert owned_view(request) == owned


def test_missing_fields_names_each_gap() -> None:
    missing = missing_fields({"dealname": "#AWS", "closedate": "2001-01-01"}, None, CONFIG, date(2026, 1, 1))
    text = " | ".join(missing)
    for expected in ("dealname", "description", "must not be in the past", "amount", "associated company"):
        assert expected in text
    assert missing_fields(DEAL, COMPANY, CONFIG, date(2026, 1, 1)) == []
    assert "company domain" in " ".join(missing_fields(DEAL, {"name": "Acme"}, CONFIG, date(2026, 1, 1)))


def test_merge_update_replaces_only_owned_fields_and_drops_aws_lifecycle() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    current = {
        "Id": "O1",
        "LastModifiedDate": stamp,
        "Arn": "arn:...",
        "Customer": {"Account": {"CompanyName": "Acme", "Duns": "123"}},
        "Project": {"Title": "Old", "AdditionalComments": "keep me"},
        "LifeCycle": {"Stage": "Prospect", "ReviewStatus": "Approved", "NextSteps": "call"},
        "OpportunityType": "Expansion",
    }
    request = merge_update(current, {"Project.Title": "New", "LifeCycle.Stage": "Qualified"})
    assert request["Identifier"] == "O1" and request["LastModifiedDate"] == stamp
    assert request["Project"] == {"Title": "New", "AdditionalComments": "keep me"}
    assert request["LifeCycle"] == {"Stage": "Qualified", "NextSteps": "call"}
    assert request["Customer"]["Account"]["Duns"] == "123"
    assert request["OpportunityType"] == "Expansion"
    assert "Arn" not in request
    assert current["Project"]["Title"] == "Old"  # the record read is not mutated


def test_review_rules() -> None:
    assert review_rules("Submitted", ["LifeCycle.Stage"])[0] == ["LifeCycle.Stage"]
    blocked, _ = review_rules("Action Required", ["LifeCycle.Stage", "LifeCycle.TargetCloseDate"])
    assert blocked == ["LifeCycle.Stage"]
    blocked, _ = review_rules("Approved", ["Customer.Account.CompanyName", "LifeCycle.Stage"])
    assert blocked == ["Customer.Account.CompanyName"]
    assert review_rules("Pending Submission", ["LifeCycle.Stage"]) == ([], None)


def test_hubspot_view_maps_back() -> None:
    view = hubspot_view(
        {"LifeCycle": {"Stage": "Launched", "TargetCloseDate": "2030-01-01", "ReviewStatus": "Approved"}},
        CONFIG,
    )
    assert view == {"dealstage": "closedwon", "closedate": "2030-01-01", "aws_review_status": "Approved"}


def test_strip_tag_and_config_validation() -> None:
    assert strip_tag("Big #aws deal", "#AWS") == "Big deal"
    with pytest.raises(ValidationError, match="not a Partner Central stage"):
        AwsConfig(stage_map={"closedwon": "Won"})
    with pytest.raises(ValidationError, match="together"):
        AwsConfig.model_validate({"aws_access_key_id": "x"})
