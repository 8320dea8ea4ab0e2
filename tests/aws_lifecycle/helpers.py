"""Steps shared by the lifecycle tests: a deal shared with AWS as an engagement, the relay's API, restarts."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

from cosync_aws.client import WRITE_OPERATIONS
from tests_aws.conftest import API_TOKEN, Stack, start_stack, wait_until
from tests_aws.test_update_and_reverse import _created

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

__all__ = ["api", "quiet", "redeliver", "restarted", "shared_deal", "writes"]


async def api(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with stack.session.request(method, f"{stack.rt.relay_url}{path}", json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def shared_deal(stack: Stack) -> tuple[str, str, str]:
    """A tagged deal, its opportunity submitted (StartEngagementFromOpportunityTask makes the engagement) and the
    engagement synced to the deal by the ``Engagement Member Added`` event: ``(deal, opportunity, engagement)``."""
    deal_id, opp_id = await _created(stack)
    status, _ = await api(stack, "POST", "/submit-opportunity", {"deal_id": deal_id})
    assert status == 202
    await wait_until(lambda: bool(stack.deal(deal_id).get("aws_engagement_id")))
    return deal_id, opp_id, stack.deal(deal_id)["aws_engagement_id"]


async def quiet(stack: Stack) -> None:
    """``Stack.quiet``: nothing left to do (the lifecycle tests' spelling)."""
    await stack.quiet()


async def redeliver(stack: Stack, detail_type: str) -> None:
    """Every event of ``detail_type`` emitted so far again, as EventBridge redelivers (a new envelope id:
    the queue's dedupe does not catch it, the flow must)."""
    for event in [e for e in stack.pc.events if e["detail-type"] == detail_type]:
        again = copy.deepcopy(event)
        again["id"] = str(uuid.uuid4())
        await stack.pc.bus.sink(again)  # type: ignore[misc]


async def writes(stack: Stack) -> dict[str, int]:
    """The write calls both emulators have taken so far, by operation."""
    pc = {k: v for k, v in (await stack.calls(stack.pc)).items() if k in WRITE_OPERATIONS}
    hs = {
        k: v
        for k, v in (await stack.calls(stack.hs)).items()
        if k.startswith(("PATCH", "POST", "PUT", "DELETE")) and "search" not in k and "batch/read" not in k
    }
    return {**pc, **hs}


def restarted(tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator) -> Any:
    """The same system started again on the same queue and store files (a new process after a restart)."""
    return start_stack(tmp_path, hs, pc)
