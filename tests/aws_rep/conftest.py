"""The AWS stack of the connector's own tests (worker + relay between the HubSpot and Partner Central
emulators), with a fallback task owner so deals AWS brings, which have no owner yet, still get their task;
and what the tests of the rep's side observe and replay (tasks, signed webhook redeliveries, boto3 reads)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.hubspot.webhooks import sign_v3
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from tests.sandbox.test_partnercentral_emulator import boto3_client, call

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws")
)  # as tests/console does
from tests_aws.conftest import Stack, start_stack, wait_until

OWNER = "70000001"


def tasks_of(stack: Stack, deal_id: str) -> list[dict[str, Any]]:
    """The deal's tasks (properties), oldest first, from the HubSpot emulator's state."""
    linked = stack.hs.portal.associated("deals", deal_id, "tasks")
    tasks = stack.hs.objects("tasks")
    return [dict(t["properties"]) for tid, t in sorted(tasks.items()) if tid in linked]


def titled(stack: Stack, deal_id: str, subject: str) -> list[dict[str, Any]]:
    return [t for t in tasks_of(stack, deal_id) if subject in str(t.get("hs_task_subject"))]


async def one_task(stack: Stack, deal_id: str, subject: str) -> dict[str, Any]:
    """Waits for the deal's task whose subject holds ``subject`` and returns it (asserting it is the only one)."""
    await wait_until(lambda: bool(titled(stack, deal_id, subject)))
    found = titled(stack, deal_id, subject)
    assert len(found) == 1, found
    return found[0]


def assert_task(task: dict[str, Any], priority: str, due_hours: float, since: float) -> None:
    """Owner (the fallback: these deals have none), priority and due date (``hs_timestamp``) of a task."""
    assert task["hubspot_owner_id"] == OWNER and task["hs_task_priority"] == priority, task
    due = datetime.fromisoformat(str(task["hs_timestamp"]).replace("Z", "+00:00")).timestamp()
    assert due_hours - 1 < (due - since) / 3600 < due_hours + 1, task


async def redeliver_webhooks(stack: Stack, matches: Callable[[dict[str, Any]], bool]) -> int:
    """HubSpot retrying: every delivered webhook event ``matches`` selects is posted to the relay again, signed
    with the app's secret (X-HubSpot-Signature-v3). Returns how many were sent."""
    events = [e for batch in stack.hs.webhooks.stats.batches for e in batch if matches(e)]
    assert events, "no delivered webhook event matched"
    url = f"{stack.rt.relay_url}/webhooks/hubspot"
    body = json.dumps(events, separators=(",", ":")).encode()
    ts = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": sign_v3(stack.hs.client_secret, "POST", url, body, ts),
    }
    async with stack.session.post(url, data=body, headers=headers) as r:
        assert r.status < 300, (r.status, await r.text())
    return len(events)


def property_change(deal_id: str, prop: str, value: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """Selects the deal's ``deal.propertyChange`` events of ``prop`` (to ``value`` when given)."""

    def matches(event: dict[str, Any]) -> bool:
        return (
            event.get("subscriptionType") == "deal.propertyChange"
            and str(event.get("objectId")) == deal_id
            and event.get("propertyName") == prop
            and (value is None or event.get("propertyValue") == value)
        )

    return matches


async def get_opportunity(stack: Stack, opp_id: str) -> dict[str, Any]:
    """The opportunity as boto3's GetOpportunity answers it (the emulator over HTTP, as a person would)."""
    found: dict[str, Any] = await call(
        boto3_client(stack.pc).get_opportunity, Catalog="Sandbox", Identifier=opp_id
    )
    return found


async def rep_stacks(
    tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator, **aws: Any
) -> AsyncIterator[Stack]:
    """:func:`start_stack` with the fallback task owner (a restart is a second call on the same tmp_path)."""
    async for s in start_stack(tmp_path, hs, pc, **aws):
        notifier = s.rt.context.services["notify"]
        notifier.settings = notifier.settings.model_copy(update={"fallback_owner_id": OWNER})
        yield s


@pytest.fixture
async def rep_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator):
        yield s
