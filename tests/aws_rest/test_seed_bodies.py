"""Every REST request body and query of seeds 000-002, posted verbatim to the relay over HTTP, answered in the
seed's shape; then the same bodies about a real deal, end to end against the emulators."""

from __future__ import annotations

from typing import Any

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created

from .conftest import ADA_OWNER, ADMIN, BOB_EMAIL, api, job_done

# Copied from the seeds as they are written.
SEED_000_SUBMIT = {"dealId": "12345", "involvementType": "Co-Sell", "visibility": "Full"}
SEED_002_ASSIGN = {"dealId": "12345", "assigneeEmail": "partner-rep@example.com", "role": "Primary Contact"}
SEED_002_ASSIGN_TEST = {
    "dealId": "12345",
    "assigneeEmail": "new-owner@partner.com",
    "role": "Primary Contact",
}
SEED_002_RESOLVE = {
    "conflictId": "conf-12345",
    "resolution": "USE_HUBSPOT_VALUE",
    "reason": "Customer confirmed deal stage in call",
}
SEED_002_ROLLBACK = {"opportunityId": "opp-67890", "targetTimestamp": "2026-02-18T09:00:00Z"}
SEED_002_AUDIT = "/audit-trail/opp-67890?limit=10"
SEED_002_AUDIT_QUERY = "?limit=50&startDate=2026-02-01"
SEED_001_SOLUTIONS = "/solutions"
SEED_001_SEARCH = "/solutions/search?q=database"
SEED_001_ONE = "/solutions/S-0000001"

SOLUTION_KEYS = {"id", "name", "category", "status"}
ENTRY_KEYS = {"timestamp", "action", "source", "user", "changes", "success", "syncDurationMs", "apiCalls"}


def _job_shape(body: dict[str, Any]) -> None:
    assert body["status"] == "pending" and body["location"] == f"/jobs/{body['jobId']}"
    assert body["job_id"] == body["jobId"]


async def test_each_seed_body_verbatim_gets_the_seed_shape(stack: Stack) -> None:
    status, body = await api(stack, "POST", "/submit-opportunity", SEED_000_SUBMIT)
    assert status == 202, body
    _job_shape(body)
    # Deal 12345 is not in this portal: the job says so
    done = await job_done(stack, body["jobId"])
    assert done["status"] == "failed" and "no AWS opportunity" in done["error"]

    for seed_body in (SEED_002_ASSIGN, SEED_002_ASSIGN_TEST):
        status, body = await api(stack, "POST", "/assign-opportunity", seed_body)
        # Those emails are no HubSpot owner of this portal: AWS needs the names cosync takes from the owner
        assert status == 422, body
        assert (
            body["errors"][0]["field"] == "assigneeEmail" and "HubSpot owner" in body["errors"][0]["message"]
        )
        assert seed_body["assigneeEmail"] not in str(body)

    status, body = await api(stack, "POST", "/conflicts/resolve", SEED_002_RESOLVE)
    assert status == 404 and "conflictId" in body["detail"]
    status, body = await api(stack, "POST", "/rollback", SEED_002_ROLLBACK)
    assert status == 202 and body["location"] == f"/jobs/{body['job_id']}", body

    status, body = await api(stack, "GET", SEED_002_AUDIT)
    assert status == 200 and body["entries"] == [] and body["total"] == 0 and body["nextToken"] is None

    status, body = await api(stack, "GET", SEED_001_SOLUTIONS)
    assert status == 200 and set(body) == {"solutions", "count", "nextToken"}
    assert body["count"] == len(body["solutions"]) > 0
    assert all(set(s) == SOLUTION_KEYS and s["status"] == "Active" for s in body["solutions"])
    status, body = await api(stack, "GET", SEED_001_SEARCH)
    assert status == 200 and set(body) == {"solutions", "count", "query"} and body["query"] == "database"
    assert body["solutions"] and all(set(s) == SOLUTION_KEYS | {"relevanceScore"} for s in body["solutions"])
    scores = [s["relevanceScore"] for s in body["solutions"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    status, body = await api(stack, "GET", SEED_001_ONE)
    assert status == 404  # the emulator's catalogue numbers its solutions S-1000001...


async def test_the_seed_bodies_about_a_real_deal(stack: Stack) -> None:
    deal_id, opp_id = await created(stack, hubspot_owner_id=ADA_OWNER)
    await stack.rep_update(
        deal_id, {"description": "Move 40 on-prem databases to Amazon RDS before the lease ends"}
    )
    submit = {**SEED_000_SUBMIT, "dealId": deal_id, "involvementType": "For Visibility Only"}
    status, body = await api(stack, "POST", "/submit-opportunity", submit)
    assert status == 202 and body["dealId"] == deal_id, body
    done = await job_done(stack, body["jobId"])
    assert done["status"] == "succeeded" and done["result"]["outcome"] == "submitted", done
    # the call's involvement type overrode the configured Co-Sell
    assert stack.deal(deal_id)["aws_involvement_type"] == "For Visibility Only"
    assert stack.opportunities()[opp_id]["LifeCycle"]["ReviewStatus"] == "Submitted"

    assign = {**SEED_002_ASSIGN, "dealId": deal_id, "assigneeEmail": BOB_EMAIL}
    status, body = await api(stack, "POST", "/assign-opportunity", assign)
    assert status == 202, body
    done = await job_done(stack, body["jobId"])
    assert done["status"] == "succeeded", done
    assert stack.deal(deal_id)["aws_assigned_partner_user"] == BOB_EMAIL

    status, trail = await api(stack, "GET", f"/audit-trail/{opp_id}{SEED_002_AUDIT_QUERY}")
    assert status == 200 and trail["objectKey"].endswith(opp_id) and trail["total"] == len(trail["entries"])
    assert all(ENTRY_KEYS <= set(e) and e["metadata"]["dealId"] == deal_id for e in trail["entries"])
    by_action = {e["action"]: e for e in trail["entries"]}
    submitted, assigned = by_action["submit_opportunity"], by_action["assign_opportunity"]
    assert submitted["user"] == "ops-admin" and submitted["source"] == "API" and submitted["success"] is True
    assert "StartEngagementFromOpportunityTask" in submitted["apiCalls"]
    assert isinstance(submitted["syncDurationMs"], int)
    assert assigned["changes"]["aws_assigned_partner_user"]["new"] == BOB_EMAIL
    assert by_action["create_opportunity"]["source"] == "HUBSPOT"
    assert by_action["create_opportunity"]["metadata"]["triggeredBy"] == "deal.creation"

    _, listing = await api(stack, "GET", SEED_001_SOLUTIONS)
    status, one = await api(stack, "GET", f"/solutions/{listing['solutions'][0]['id']}")
    assert status == 200 and {"arn", "description", "createdDate", "catalog"} <= set(one)
    assert (
        one["arn"].startswith("arn:aws:") and one["createdDate"].endswith("Z") and one["catalog"] == "Sandbox"
    )


async def test_snake_case_aliases_and_bad_input(stack: Stack) -> None:
    deal_id, _ = await created(stack, hubspot_owner_id=ADA_OWNER)
    status, body = await api(
        stack, "POST", "/assign-opportunity", {"deal_id": deal_id, "owner_id": "70000002"}
    )
    assert status == 202, body
    await wait_until(lambda: stack.deal(deal_id).get("aws_assigned_partner_user") == BOB_EMAIL)
    status, body = await api(
        stack, "POST", "/submit-opportunity", {"deal_id": deal_id, "visibility": "Limited"}
    )
    assert status == 202, body

    bad = [
        ({}, "dealId"),
        ({"dealId": deal_id, "deal_id": "999"}, "disagree"),
        ({"dealId": deal_id, "involvementType": "Maybe"}, "involvementType"),
        ({"dealId": "12a"}, "dealId"),
        ({"dealId": deal_id, "color": "red"}, "color"),
    ]
    for body_in, named in bad:
        status, body = await api(stack, "POST", "/submit-opportunity", body_in)
        assert status == 422 and named in str(body), (body_in, body)
    status, body = await api(stack, "POST", "/assign-opportunity", {"dealId": deal_id})
    assert status == 422 and "assigneeEmail" in str(body)
    for query, named in (("?limit=0", "limit"), ("?limit=101", "limit"), ("?nextToken=zzz", "nextToken")):
        status, body = await api(stack, "GET", f"/solutions{query}")
        assert status == 400 and named in str(body), (query, body)
    status, body = await api(stack, "GET", "/solutions/search?q=%20")
    assert status == 400 and "query.q" in str(body)

    status, spec = await api(stack, "GET", "/openapi.json")
    schemas = spec["components"]["schemas"] if "components" in spec else {}
    text = str(spec)
    for name in ("dealId", "deal_id", "involvementType", "assigneeEmail", "owner_id", "nextToken"):
        assert name in text, name
    assert schemas is not None and status == 200 and ADMIN not in text
