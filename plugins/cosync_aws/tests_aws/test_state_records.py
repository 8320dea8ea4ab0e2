"""The connector's own records on the SDK's primitives: the opportunity -> deal map is written once, records a
release before the SDK wrote (plain, unversioned) are read after the upgrade, and the creating flows' leases
turn another worker's hold into a deferred retry."""

from __future__ import annotations

import asyncio

import pytest
from cosync_aws.client import Priority
from cosync_aws.hubspot_side import deal_for, link_opportunity
from cosync_aws.inbound import accept_invitation, adopt_opportunity
from cosync_aws.mapping import client_token
from cosync_aws.plugin import deps_of

from cosync_worker.errors import Busy

from .conftest import Stack, wait_until
from .test_create import GOOD_DEAL
from .test_invitations import REFERRAL, _deals_for
from .test_update_and_reverse import _created


async def test_a_second_deal_naming_the_opportunity_does_not_take_it(stack: Stack) -> None:
    first, opp_id = await _created(stack)
    deps = deps_of(stack.rt.context)
    # A rep copies the deal, opportunity id included: the opportunity stays the first deal's, and the copy is
    # told so instead of being synced to it (test_create.py: once cleared, it gets its own).
    copy = await stack.rep_deal({**GOOD_DEAL, "dealname": "BigCorp copy #AWS", "aws_opportunity_id": opp_id})
    await wait_until(lambda: stack.deal(copy).get("aws_sync_status") == "error")
    await stack.quiet()
    assert (await deps.deals.read(copy)).value.opportunity_id is None
    record = await deps.opportunities.read(opp_id)
    assert record.value.deal_id == first
    # Named again, the map answers with the deal it has and writes nothing; the same deal again is a no-op.
    assert await link_opportunity(deps, opp_id, copy) == first
    assert await link_opportunity(deps, opp_id, first) == first
    assert (await deps.opportunities.read(opp_id)).version == record.version
    # AWS's change reaches the opportunity's deal, not the copy.
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"ReviewStatus": "Action Required"})
    await wait_until(lambda: stack.deal(first).get("aws_review_status") == "Action Required")
    await stack.quiet()
    assert stack.deal(copy).get("aws_review_status") != "Action Required"


async def test_two_deals_linking_one_opportunity_at_once_agree_on_one(stack: Stack) -> None:
    deps = deps_of(stack.rt.context)
    for round_ in range(5):
        opp_id = f"O-race-{round_}"
        answers = await asyncio.gather(*(link_opportunity(deps, opp_id, str(d)) for d in range(4)))
        winner = (await deps.opportunities.read(opp_id)).value.deal_id
        assert winner is not None and answers == [winner] * 4


async def test_a_map_written_before_the_upgrade_is_read_and_kept(stack: Stack) -> None:
    deps = deps_of(stack.rt.context)
    # What the release before the SDK wrote: a plain state key, no version.
    await stack.rt.context.store.put_state("aws:opportunity:O-legacy", {"deal_id": "41"})
    before = await stack.calls(stack.hs)
    assert await deal_for(deps, "O-legacy") == "41"
    assert await stack.calls(stack.hs) == before  # no search: the map answered
    # It counts as the first write: another deal does not replace it, and the first versioned write of the
    # record (any field) carries it over.
    assert await link_opportunity(deps, "O-legacy", "42") == "41"
    carried = await deps.opportunities.update("O-legacy", lambda link: link)
    assert (carried.value.deal_id, carried.version) == ("41", 1)


async def test_an_invitation_half_accepted_before_the_upgrade_is_finished(stack: Stack) -> None:
    stack.pc.set_event_sink(None)  # no event: the test drives the acceptance
    made = await stack.aws("/_sandbox/invitations", REFERRAL)
    invitation_id = made["invitation_id"]
    deps = deps_of(stack.rt.context)
    # The release before the SDK started the task and recorded it (plain state), then stopped.
    task = await deps.pc.call(
        "StartEngagementByAcceptingInvitationTask",
        Priority.CREATE,
        ClientToken=client_token("invitation", invitation_id),
        Identifier=invitation_id,
    )
    await stack.rt.context.store.put_state(f"aws:invitation:{invitation_id}", {"task_id": task["TaskId"]})
    deal_id = await accept_invitation(deps, invitation_id)
    assert deal_id is not None
    assert [d["aws_invitation_id"] for d in _deals_for(stack, invitation_id)] == [invitation_id]
    calls = await stack.calls(stack.pc)
    assert calls.get("StartEngagementByAcceptingInvitationTask") == 1  # the old release's, not another
    assert calls.get("GetEngagementInvitation", 0) == 0
    record = await deps.invitations.read(invitation_id)
    assert record.version > 0
    assert (record.value.task_id, record.value.deal_id) == (task["TaskId"], deal_id)
    assert record.value.opportunity_id == stack.deal(deal_id)["aws_opportunity_id"]
    assert (await deps.opportunities.read(str(record.value.opportunity_id))).value.deal_id == deal_id
    # Done: asked again, the record answers (no lease, no call).
    assert await accept_invitation(deps, invitation_id) == deal_id
    assert await stack.calls(stack.pc) == calls


async def test_another_workers_lease_defers_the_invitation_and_the_adoption(stack: Stack) -> None:
    deps = deps_of(stack.rt.context)
    store = stack.rt.context.store
    before = await stack.calls(stack.pc)
    for lease, attempt in (
        ("aws:invitation:inv-held", accept_invitation(deps, "inv-held")),
        ("aws:adopt:O-held", adopt_opportunity(deps, "O-held")),
    ):
        assert await store.acquire_lease(lease, "another-worker", 30.0)
        with pytest.raises(Busy) as held:
            await attempt
        assert held.value.defer == 15.0  # half the lease: a killed holder's has run out by the second try
        await store.release_lease(lease, "another-worker")
    assert await stack.calls(stack.pc) == before  # nothing was read or written while another worker held them
