"""Issue 22: a push's stamp and note wait in a batch window of several write intervals so that pushes share
HubSpot calls, but nothing waits for that window: the push's event settles at once, so the deal's next edit
reaches Partner Central while the first push's stamp still waits, and a graceful stop sends what waits
instead of losing it. The window is made longer than any test here (no time window is hit or missed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cosync_aws import pushes

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.trailing import pending

from .conftest import start_stack, wait_until
from .test_event_values import _linked_deal, _spend

PATCH = "PATCH /crm/v3/objects/{objectType}/{objectId}"
BATCH_CREATE = "POST /crm/v3/objects/{objectType}/batch/create"
BATCH_UPDATE = "POST /crm/v3/objects/{objectType}/batch/update"


async def test_a_deals_next_edit_does_not_wait_for_the_last_pushs_stamp(
    tmp_path: Path,
    hubspot_emulator: HubSpotEmulator,
    partnercentral_emulator: PartnerCentralEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pushes, "STAMP_WINDOW_INTERVALS", 1e6)  # 1000 s at the tests' 1000 writes/s
    hs, pc = hubspot_emulator, partnercentral_emulator
    stacks = start_stack(tmp_path, hs, pc)
    stack = await anext(stacks)
    try:
        deal_id, opp_id = await _linked_deal(stack)
        stamped = stack.deal(deal_id)["aws_last_sync_date"]
        notes = len(stack.notes_of(deal_id))

        for amount in ("20000", "30000"):  # the second edit's event is the first's successor in its group
            await stack.rep_update(deal_id, {"amount": amount})

            async def pushed(amount: str = amount) -> bool:
                return _spend(stack, opp_id) == amount

            await wait_until(pushed)

        # Both pushes landed; their stamps and notes still wait, and the worker counts them as work left (a
        # push's trailing starts after its write's answer and its state's update: waited for, not assumed).
        await wait_until(lambda: pending() == 2)
        assert stack.deal(deal_id)["aws_last_sync_date"] == stamped
        assert len(stack.notes_of(deal_id)) == notes
        assert not stack.rt.worker.idle()
        calls = dict(hs.calls)
    finally:
        await stacks.aclose()  # a graceful stop: the windows end at once and their writes are sent

    assert pending() == 0
    after = hs.objects("deals")[deal_id]["properties"]
    assert after["aws_last_sync_date"] != stamped and after["aws_last_sync_by"] == "rep"
    assert len(stack.notes_of(deal_id)) == notes + 2  # one per push, in one batch call
    sent = {k: hs.calls[k] - calls.get(k, 0) for k in (PATCH, BATCH_CREATE, BATCH_UPDATE)}
    assert sent == {
        PATCH: 1,
        BATCH_CREATE: 1,
        BATCH_UPDATE: 0,
    }  # the deal's two stamps merged, the notes batched
