"""An approval that lands in Partner Central just before a push of the rep's edit still reaches the deal
(``aws_review_status``) and the rep (one task): the push reads AWS's record to merge into, and must not
record AWS's new review status as already synced (finding of issue 17, see the xfail's reason)."""

from __future__ import annotations

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created

from .conftest import titled


async def test_an_approval_just_before_a_push_still_reaches_the_deal(rep_stack: Stack) -> None:
    stack = rep_stack
    deal_id, opp_id = await created(stack)
    stack.pc.set_event_sink(None)  # the approval's event is not here yet when the push reads the record
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"catalog": "Sandbox", "ReviewStatus": "Approved"})
    await stack.rep_update(deal_id, {"amount": "18000"})
    await wait_until(lambda: any("Sent to AWS" in n for n in stack.notes_of(deal_id)))
    await stack.tick("aws_reconcile")  # seed 001 §4's schedule: what reconciliation catches
    await stack.settle(1.5)
    assert stack.deal(deal_id).get("aws_review_status") == "Approved"
    assert len(titled(stack, deal_id, "Approved")) == 1
