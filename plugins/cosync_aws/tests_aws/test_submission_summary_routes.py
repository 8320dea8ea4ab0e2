"""Flows 6 and 9 and the REST routes end to end, through the relay with bearer auth."""

from __future__ import annotations

from typing import Any

from .conftest import API_TOKEN, Stack, wait_until
from .test_update_and_reverse import _created, _prop_is


async def _api(stack: Stack, method: str, path: str, body: Any = None, token: str | None = API_TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.session.request(method, f"{stack.rt.relay_url}{path}", json=body, headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.json(content_type=None)


async def test_submit_route_submits_once_and_summary_sync_follows(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    status, _, body = await _api(stack, "POST", "/submit-opportunity", {"deal_id": deal_id})
    assert status == 202 and body["status"] == "pending"

    async def submitted() -> bool:
        return bool(stack.deal(deal_id).get("aws_submission_date"))

    await wait_until(submitted)
    deal = stack.deal(deal_id)
    assert deal["aws_review_status"] == "Submitted"
    assert deal["aws_involvement_type"] == "Co-Sell" and deal["aws_visibility"] == "Full"
    assert deal["aws_submission_date"]
    assert stack.opportunities()[opp_id]["LifeCycle"]["ReviewStatus"] == "Submitted"
    # Submitting again is harmless: the opportunity is already under review
    await _api(stack, "POST", "/submit-opportunity", {"deal_id": deal_id})
    await stack.settle(1.0)
    calls = await stack.calls(stack.pc)
    assert calls.get("StartEngagementFromOpportunityTask") == 1
    assert sum("Submitted to AWS" in n for n in stack.notes_of(deal_id)) == 1
    assert not any("changed opportunity" in n for n in stack.notes_of(deal_id))

    # Flow 9: AWS rates the opportunity; the hourly summary sync brings it over, batched on HubSpot's side
    await stack.aws(
        f"/_sandbox/opportunities/{opp_id}",
        {
            "EngagementScore": "High",
            "NextSteps": "Joint customer call",
            "AwsSeller": {"Email": "seller@amazon.com", "FirstName": "Sam", "LastName": "Seller"},
        },
    )
    hs_before = await stack.calls(stack.hs)
    await stack.tick("aws_summary")
    await wait_until(lambda: _prop_is(stack, deal_id, "aws_engagement_score", "High"))
    deal = stack.deal(deal_id)
    assert deal["aws_next_steps"] == "Joint customer call"
    assert deal["aws_seller_name"] == "Sam Seller"
    assert deal["aws_last_summary_sync"]
    await stack.settle()
    hs_after = await stack.calls(stack.hs)
    grew = {k: v - hs_before.get(k, 0) for k, v in hs_after.items() if v != hs_before.get(k, 0)}
    assert not any(k.startswith("PATCH") for k in grew), grew  # no per-deal update
    assert any("batch/update" in k for k in grew), grew
    assert sum("Engagement Score Increased to High" in n for n in stack.notes_of(deal_id)) == 1
    await stack.tick("aws_summary")
    await stack.settle(1.0)
    assert sum("Engagement Score Increased to High" in n for n in stack.notes_of(deal_id)) == 1


async def test_routes_need_a_token_and_reject_bad_input_clearly(stack: Stack) -> None:
    status, ctype, _ = await _api(stack, "POST", "/submit-opportunity", {"deal_id": "1"}, token=None)
    assert status == 401 and "problem+json" in ctype
    status, ctype, body = await _api(stack, "POST", "/submit-opportunity", {"deal_id": "abc"})
    assert status in (400, 422) and "problem+json" in ctype and "deal_id" in str(body)
    status, _, body = await _api(stack, "GET", "/solutions/search")
    assert status == 400 and "q" in body["detail"]
    status, _, body = await _api(stack, "GET", "/solutions/S-0")
    assert status == 404


async def test_solution_routes_filter_and_cache(stack: Stack) -> None:
    status, _, body = await _api(stack, "GET", "/solutions?category=Training")
    assert status == 200 and body["count"] == 2
    assert {s["name"] for s in body["solutions"]} == {
        "Quantum Readiness Workshop",
        "Cloud Practitioner Bootcamp",
    }
    _, _, body = await _api(stack, "GET", "/solutions/search?q=migration")
    assert {s["name"] for s in body["solutions"]} >= {"Cloud Migration Factory", "Database Freedom Migration"}
    _, _, body = await _api(stack, "GET", "/solutions/S-1000001")
    assert body["name"] == "Data Lake Accelerator"
    _, _, body = await _api(stack, "GET", "/solutions?status=Inactive")
    assert body["count"] == 3
    # The solutions were listed once for all of that (cached with a TTL)
    assert (await stack.calls(stack.pc)).get("ListSolutions") == 1
