"""Seed 002 "Security considerations": only the deal's owner or an admin resolves a conflict or rolls back; the
audit trail records who; a viewer reads; the single plain token of earlier releases is still an admin."""

from __future__ import annotations

from datetime import UTC, datetime

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created, person_sets_amount

from cosync_worker.conflicts import Conflict, ConflictBook

from .conftest import ADA, ADA_EMAIL, ADA_OWNER, BOB, LEGACY, VIEWER, api, job_done


async def _pending_conflict(stack: Stack) -> tuple[str, str, str]:
    """A conflict on ADA's deal's amount, kept in the book as the connector keeps the ones it detects (the
    detection itself is tests_aws' subject)."""
    deal_id, opp_id = await created(stack, hubspot_owner_id=ADA_OWNER)
    await stack.rep_update(deal_id, {"amount": "20000"})
    await wait_until(lambda: _pc_amount(stack, opp_id) == "20000")
    await person_sets_amount(stack, opp_id, "30000")
    conflict = Conflict(
        connector="aws",
        object_key=f"partnercentral:opportunity:{opp_id}",
        remote_id=opp_id,
        deal_id=deal_id,
        field="amount",
        hubspot_value="20000",
        remote_value="30000",
    )
    await ConflictBook(stack.rt.context.store).record(conflict)
    _, body = await api(stack, "GET", "/conflicts/pending", token=VIEWER)
    assert [c["id"] for c in body["conflicts"]] == [conflict.id]
    return deal_id, opp_id, conflict.id


def _pc_amount(stack: Stack, opp_id: str) -> str:
    return str(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"])


async def test_only_the_owner_or_an_admin_resolves_and_the_trail_says_who(stack: Stack) -> None:
    _, opp_id, conflict_id = await _pending_conflict(stack)
    resolve = {"conflictId": conflict_id, "resolution": "USE_HUBSPOT_VALUE", "reason": "customer confirmed"}
    status, body = await api(stack, "POST", "/conflicts/resolve", resolve, token=VIEWER)
    assert status == 403 and "viewer" in body["detail"]
    status, body = await api(stack, "POST", "/conflicts/resolve", resolve, token=BOB)
    assert status == 403 and "owner" in body["detail"], body
    assert BOB not in str(body) and "bob.seller" not in str(body)
    # Bob was refused before anything was claimed: the owner resolves it
    status, body = await api(stack, "POST", "/conflicts/resolve", resolve, token=ADA)
    assert status == 202, body
    assert (await job_done(stack, body["job_id"]))["status"] == "succeeded"
    assert _pc_amount(stack, opp_id) == "20000"

    _, trail = await api(stack, "GET", f"/audit-trail/{opp_id}", token=VIEWER)
    [resolved] = [e for e in trail["entries"] if e["action"] == "conflict_resolved"]
    assert resolved["user"] == ADA_EMAIL and resolved["source"] == "API"
    _, book = await api(stack, "GET", "/audit-trail/cosync:conflicts", token=VIEWER)
    [entry] = [e for e in book["entries"] if e["action"] == "conflict_resolved"]
    assert entry["user"] == ADA_EMAIL and entry["detail"]["resolved_by"] == ADA_EMAIL
    assert not any(e["user"] == "bob.seller@example.com" for e in trail["entries"] + book["entries"])


async def test_only_the_owner_or_an_admin_rolls_back(stack: Stack) -> None:
    deal_id, opp_id = await created(stack, hubspot_owner_id=ADA_OWNER)
    now = datetime.now(UTC).isoformat()
    body_in = {"opportunityId": opp_id, "targetTimestamp": now}
    status, body = await api(stack, "POST", "/rollback", body_in, token=BOB)
    assert status == 403 and "owner" in body["detail"], body
    status, body = await api(stack, "POST", "/rollback", body_in, token=ADA)
    assert status == 202, body
    await job_done(stack, body["job_id"])
    _, trail = await api(stack, "GET", f"/audit-trail/{opp_id}", token=VIEWER)
    rollbacks = [e for e in trail["entries"] if e["action"].startswith("rollback")]
    assert rollbacks and all(e["user"] == ADA_EMAIL for e in rollbacks), trail["entries"]
    # the plain string token is an admin: it may roll back any deal's opportunity
    status, body = await api(stack, "POST", "/rollback", body_in, token=LEGACY)
    assert status == 202, body
    # an opportunity cosync has no deal for: only an admin
    status, body = await api(
        stack, "POST", "/rollback", {"opportunityId": "O9999999999", "targetTimestamp": now}, token=ADA
    )
    assert status == 403 and "admin" in body["detail"]
    # a user may still write elsewhere (submit), a viewer may not
    status, _ = await api(stack, "POST", "/submit-opportunity", {"dealId": deal_id}, token=BOB)
    assert status == 202
    status, body = await api(stack, "POST", "/submit-opportunity", {"dealId": deal_id}, token=VIEWER)
    assert status == 403 and "viewer" in body["detail"]
