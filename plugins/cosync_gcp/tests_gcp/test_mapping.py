"""The pure deal ↔ lead/opportunity translations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cosync_gcp.config import GcpConfig
from cosync_gcp.mapping import (
    LeadInputError,
    changed_deal_fields,
    google_changes,
    has_tag,
    lead_body,
    missing_lead_fields,
    opportunity_patch,
    opportunity_to_hubspot,
    parse_close_date,
)

CONFIG = GcpConfig.model_validate({})
DEAL: dict[str, Any] = {
    "dealname": "Acme warehouse #GCP",
    "amount": "120000",
    "closedate": "2030-06-30T00:00:00Z",
    "description": "Move the warehouse to BigQuery",
    "hs_next_step": "Call the CTO",
    "dealstage": "qualifiedtobuy",
}
COMPANY = {"name": "Acme Corp", "domain": "", "website": "https://www.acme.test/about"}
CONTACT = {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acme.test", "phone": ""}


def test_lead_body_maps_company_contact_and_external_id() -> None:
    lead = lead_body("77", DEAL, COMPANY, CONTACT, CONFIG)
    assert lead["externalSystemId"] == "hubspot-deal-77"
    assert lead["customer"]["company"] == "Acme Corp"
    assert lead["customer"]["googleAccountDomain"] == "acme.test"
    assert lead["customer"]["customerContacts"] == [
        {"givenName": "Ada", "familyName": "Lovelace", "email": "ada@acme.test"}
    ]
    assert lead["partnerAnnualContractValue"] == 120000.0
    assert lead["estimatedCloseDate"] == {"year": 2030, "month": 6, "day": 30}
    assert lead["opportunitySummary"] == "Move the warehouse to BigQuery"
    assert lead["productInterests"] == ["GOOGLE_CLOUD_PLATFORM"]
    assert lead["leadCurrencyCode"] == "USD"


def test_missing_fields_are_all_named() -> None:
    deal = {"dealname": "x #GCP", "amount": "", "closedate": None}
    assert missing_lead_fields(deal, {"name": " "}) == ["deal.amount", "deal.closedate", "company.name"]
    with pytest.raises(LeadInputError) as err:
        lead_body("1", deal, None, None, CONFIG)
    assert "deal.amount" in str(err.value) and "company" in str(err.value)


def test_bad_values_name_the_field() -> None:
    with pytest.raises(LeadInputError, match="deal.amount"):
        lead_body("1", {**DEAL, "amount": "lots"}, COMPANY, None, CONFIG)
    with pytest.raises(LeadInputError, match="deal.closedate"):
        lead_body("1", {**DEAL, "closedate": "soon"}, COMPANY, None, CONFIG)
    with pytest.raises(LeadInputError, match="gcp_product_family"):
        lead_body("1", {**DEAL, "gcp_product_family": "not an enum!"}, COMPANY, None, CONFIG)


def test_epoch_millisecond_dates() -> None:
    millis = int(datetime(2030, 6, 30, 12, tzinfo=UTC).timestamp() * 1000)
    assert parse_close_date(str(millis)) == {"year": 2030, "month": 6, "day": 30}


def test_patch_has_only_changed_fields_in_mask() -> None:
    changes = changed_deal_fields({**DEAL}, {**DEAL, "amount": "5", "dealstage": "closedwon"})
    assert changes == {"dealstage": "closedwon", "amount": "5"}
    patch = opportunity_patch(changes, CONFIG)
    assert patch.mask == ["salesStage", "dealSize"]
    assert patch.body == {"salesStage": "CLOSED_WON", "dealSize": 5.0}


def test_cleared_value_is_masked_without_body_and_unmappable_changes_are_reported() -> None:
    patch = opportunity_patch(
        {"hs_next_step": "", "dealstage": "custom-stage", "gcp_product_family": "GOOGLE_WORKSPACE"}, CONFIG
    )
    assert patch.mask == ["nextSteps"] and patch.body == {}
    assert any("custom-stage" in u for u in patch.unmapped)
    assert any("gcp_product_family" in u for u in patch.unmapped)


def test_opportunity_to_hubspot_and_google_changes() -> None:
    opp = {
        "name": "partners/p/opportunities/abc",
        "salesStage": "CLOSED_WON",
        "qualificationState": "QUALIFIED",
        "winProbability": "90",
    }
    props = opportunity_to_hubspot(opp, CONFIG)
    assert props["gcp_opportunity_id"] == "abc" and props["dealstage"] == "closedwon"
    assert props["gcp_win_probability"] == "90"
    assert google_changes({"salesStage": "CLOSED_WON"}, opp) == {
        "qualificationState": "QUALIFIED",
        "winProbability": "90",
    }


def test_tag_is_case_insensitive() -> None:
    assert has_tag("deal #gcp", "#GCP") and not has_tag("deal #AWS", "#GCP") and not has_tag(None, "#GCP")
