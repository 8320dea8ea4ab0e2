"""AWS's review reaches the rep as a task and a note (seed 004), once: through the EventBridge envelope on the
queue, again through the reconcile of a lost event, and after a worker restart."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_conflicts import created

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import OWNER, rep_stacks, tasks_of

FEEDBACK = "Please add the customer use case and the expected spend"


async def _approved_tasks(stack: Stack, deal_id: str, count: int = 1) -> list[dict[str, str]]:
    async def arrived() -> bool:
        return len([t for t in tasks_of(stack, deal_id) if "Approved" in t["hs_task_subject"]]) >= count

    await wait_until(arrived)
    return [t for t in tasks_of(stack, deal_id) if "Approved" in t["hs_task_subject"]]


async def test_approval_event_is_one_high_task_with_feedback_even_when_reconciled_again(
    rep_stack: Stack,
) -> None:
    stack = rep_stack
    deal_id, opp_id = await created(stack)
    before = time.time()
    await stack.aws(
        f"/_sandbox/opportunities/{opp_id}",
        {"catalog": "Sandbox", "ReviewStatus": "Approved", "ReviewComments": FEEDBACK},
    )
    tasks = await _approved_tasks(stack, deal_id)
    task = tasks[0]
    assert task["hubspot_owner_id"] == OWNER and task["hs_task_priority"] == "HIGH"
    due = datetime.fromisoformat(task["hs_timestamp"].replace("Z", "+00:00")).timestamp()
    due_hours = (due - before) / 3600
    assert 23 < due_hours < 25
    assert FEEDBACK in task["hs_task_body"]
    await wait_until(lambda: any(FEEDBACK in n for n in stack.notes_of(deal_id)))  # the notice's note
    # The rep is told first, then the reverse sync writes the deal (and its stamp, batched with other pushes'):
    # waited for, not read at the note's moment.
    await wait_until(
        lambda: (
            stack.deal(deal_id).get("aws_review_comments") == FEEDBACK
            and stack.deal(deal_id).get("aws_last_sync_by") == "AWS"
        )
    )
    await stack.tick("aws_reconcile")  # the same change seen again
    await stack.settle(1.0)
    assert len([t for t in tasks_of(stack, deal_id) if "Approved" in t["hs_task_subject"]]) == 1


async def test_a_lost_approval_event_is_one_task_through_reconcile_and_after_a_restart(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    async for stack in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator):
        deal_id, opp_id = await created(stack)
        stack.pc.set_event_sink(None)  # EventBridge delivery is best effort
        await stack.aws(
            f"/_sandbox/opportunities/{opp_id}", {"catalog": "Sandbox", "ReviewStatus": "Rejected"}
        )
        await stack.tick("aws_reconcile")

        async def rejected(stack: Stack = stack, deal_id: str = deal_id) -> bool:
            return any("Rejected" in t["hs_task_subject"] for t in tasks_of(stack, deal_id))

        await wait_until(rejected)
        [task] = [t for t in tasks_of(stack, deal_id) if "Rejected" in t["hs_task_subject"]]
        assert task["hs_task_priority"] == "MEDIUM"
    # A new worker on the same store and queue: the reconcile sees the same record and tells nobody again.
    async for stack in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator):
        await stack.tick("aws_reconcile")
        await stack.settle(1.5)
        assert len([t for t in tasks_of(stack, deal_id) if "Rejected" in t["hs_task_subject"]]) == 1
