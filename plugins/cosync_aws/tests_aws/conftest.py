"""End-to-end harness: the real Runtime (worker + relay) between the HubSpot and Partner Central emulators.

The HubSpot emulator posts signed webhooks to the relay, Partner Central's events reach the queue through
the EventBridge sink, a rep acts with the HubSpot user token and AWS acts through the operator API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cosync_worker.config import Settings
from cosync_worker.events import schedule_tick
from cosync_worker.hooks import PropertySpec
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink
from cosync_worker.testing.waiting import until_drained
from cosync_worker.testing.waiting import wait_until as wait_until  # re-exported for the tests

API_TOKEN = "aws-test-api-token"
# How long ``Stack.settle`` waits for the worker to drain before its own sleep (a bound against hangs).
SETTLE_BOUND = 20.0
_slots = itertools.count(1)


def build_settings(tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator, **aws: Any) -> Settings:
    return Settings.model_validate(settings_dict(tmp_path, hs, pc, **aws))


def settings_dict(
    tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator, **aws: Any
) -> dict[str, Any]:
    """The config as plain data (a subprocess worker gets it as YAML; secrets are literals here)."""
    return dict(
        {
            "queue": {"kind": "local", "path": str(tmp_path / "queue.db"), "visibility_timeout": 10},
            "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
            "worker": {
                "concurrency": 16,
                "wait_seconds": 0.2,
                "drain_seconds": 5,
                "heartbeat_seconds": 1,
                "retry": {"max_attempts": 4, "base_delay": 0.05, "max_delay": 0.2},
            },
            "relay": {"enabled": True, "port": 0, "api_tokens": [API_TOKEN]},
            "hubspot": {
                "base_url": hs.base_url,
                "access_token": hs.access_token,
                "client_secret": hs.client_secret,
                "app_id": hs.webhooks.app_id,
                "requests_per_10s": 10_000,
                "search_per_second": 1_000,
            },
            "plugins": {"example": False, "gcp": False},
            "connectors": {
                "aws": {
                    "endpoint_url": pc.base_url,
                    "catalog": "Sandbox",
                    "aws_access_key_id": "sandbox",
                    "aws_secret_access_key": "sandbox",
                    "coalesce_seconds": 0.3,
                    "task_poll_seconds": 0.05,
                    "write_rate_per_second": 1000,
                    "read_rate_per_second": 1000,
                    **aws,
                }
            },
            "schedules": {
                name: {"enabled": False}
                for name in ("aws_reconcile", "aws_invitations", "aws_summary", "aws_submission_rules")
            },
        }
    )


@dataclass
class Stack:
    rt: Runtime
    hs: HubSpotEmulator
    pc: PartnerCentralEmulator
    session: aiohttp.ClientSession

    # -- the rep, clicking in HubSpot (user token) ------------------------------------------------
    async def rep(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        async with self.session.request(method, self.hs.base_url + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            assert r.status < 300, (r.status, data)
            return data

    async def rep_company(self, name: str = "BigCorp", domain: str = "bigcorp.example") -> str:
        made = await self.rep(
            "POST", "/crm/v3/objects/companies", {"properties": {"name": name, "domain": domain}}
        )
        return str(made["id"])

    async def rep_deal(self, props: dict[str, str], company_id: str | None = None) -> str:
        body: dict[str, Any] = {"properties": props}
        if company_id:
            body["associations"] = [
                {
                    "to": {"id": company_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                }
            ]
        made = await self.rep("POST", "/crm/v3/objects/deals", body)
        return str(made["id"])

    async def rep_update(self, deal_id: str, props: dict[str, str]) -> None:
        await self.rep("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": props})

    # -- AWS, through the operator API ------------------------------------------------------------
    async def aws(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.pc.base_url + path, json=body) as r:
            data = await r.json(content_type=None)
            assert r.status < 300, (r.status, data)
            return data

    # -- observing ----------------------------------------------------------------------------------
    def deal(self, deal_id: str) -> dict[str, str]:
        props: dict[str, str] = self.hs.objects("deals")[deal_id]["properties"]
        return dict(props)

    def notes_of(self, deal_id: str) -> list[str]:
        notes = self.hs.objects("notes")
        linked = self.hs.portal.associated("deals", deal_id, "notes")
        return [
            str(n["properties"].get("hs_note_body", "")) for nid, n in sorted(notes.items()) if nid in linked
        ]

    async def calls(self, emulator: Any) -> dict[str, int]:
        async with self.session.get(emulator.base_url + "/_sandbox/calls") as r:
            data: dict[str, int] = await r.json()
            return data

    def opportunities(self) -> dict[str, dict[str, Any]]:
        return self.pc.opportunities("Sandbox")

    async def tick(self, loop: str) -> None:
        event = schedule_tick(loop, next(_slots) + int(time.time()))
        await self.rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])

    async def settle(self, seconds: float = 0.6) -> None:
        """Let webhooks flush and the worker drain, then ``seconds`` more (before asserting 'nothing more').
        The drain is waited for (bounded; a test holding work on purpose goes on after ``SETTLE_BOUND``), so
        a flow still finishing on a busy machine is not asserted half done; the sleep only lets what the
        assertion says must not happen have its chance to."""
        with contextlib.suppress(AssertionError):
            await self.quiet(timeout=SETTLE_BOUND)
        await asyncio.sleep(seconds)

    async def quiet(self, timeout: float = 60.0) -> None:
        """Wait until nothing is left to do: HubSpot's webhooks delivered, no message waiting or in flight in
        the queue and nothing held by the worker. Checked twice, one poll apart, because a receive under way
        may be claiming a message at that very moment (``Worker.idle``). What "nothing more happened" is
        asserted after, not a sleep: a flow still finishing on a busy machine is waited for, never mistaken
        for a repeat."""
        await until_drained(self.rt, self.hs, timeout)


class HeldEvent:
    """The first Partner Central event of one detail type, kept from the worker until :meth:`release`."""

    def __init__(self, stack: Stack, detail_type: str) -> None:
        sink = stack.pc.bus.sink
        assert sink is not None
        self.sink, self.detail_type = sink, detail_type
        self.held: list[dict[str, Any]] = []
        self.seen = 0

    async def __call__(self, event: dict[str, Any]) -> None:
        if event["detail-type"] == self.detail_type:
            self.seen += 1
            if self.seen == 1:
                self.held.append(event)
                return
        await self.sink(event)

    async def release(self) -> None:
        assert len(self.held) == 1, f"{self.detail_type!r} was not announced"
        await self.sink(self.held.pop())


@asynccontextmanager
async def first_event_held(stack: Stack, detail_type: str) -> AsyncIterator[HeldEvent]:
    """Partner Central announces an opportunity while answering CreateOpportunity, before cosync recorded it:
    a test that needs the event handled after cosync's own record holds it here and releases it then."""
    holder = HeldEvent(stack, detail_type)
    stack.pc.bus.sink = holder
    try:
        yield holder
    finally:
        stack.pc.bus.sink = holder.sink


def declared_properties(rt: Runtime) -> list[PropertySpec]:
    """Every property the installed plugins declare (what ``cosync properties create`` creates): a worker
    process refuses to start while HubSpot lacks one."""
    return [spec for batch in rt.plugins.hook.cosync_hubspot_properties() for spec in batch or []]


async def start_stack(
    tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator, *, run_worker: bool = True, **aws: Any
) -> AsyncIterator[Stack]:
    settings = build_settings(tmp_path, hs, pc, **aws)
    async with Runtime(settings) as rt, aiohttp.ClientSession() as session:
        await rt.start_relay()
        await rt.context.service("hubspot").ensure_properties(declared_properties(rt))
        sub = hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        pc.set_event_sink(eventbridge_sink(rt.context.queue))
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False)) if run_worker else None
        try:
            yield Stack(rt, hs, pc, session)
        finally:
            await hs.drain_webhooks()  # what HubSpot owes this relay reaches it while it still listens
            # A restarted stack listens elsewhere: HubSpot's deliveries to this relay would only be retried
            # into a closed port (and a drain of the webhooks would wait for them to be given up).
            hs.unsubscribe(sub)
            pc.set_event_sink(None)
            if task is not None:
                rt.stop()
                await asyncio.wait_for(task, 15)


@pytest.fixture
async def odd_stack(
    request: pytest.FixtureRequest, tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> AsyncIterator[Stack]:
    """A stack on a Partner Central of its own, of the class the test names with
    ``@pytest.mark.partnercentral(emulator=cls, **aws_settings)`` (one that misbehaves in a chosen way),
    with room in its quotas."""
    mark = request.node.get_closest_marker("partnercentral")
    assert mark is not None, "odd_stack needs @pytest.mark.partnercentral(emulator=EmulatorClass)"
    aws = dict(mark.kwargs)
    pc = aws.pop("emulator")(write_rate=1000.0, read_rate=1000.0, task_seconds=0.05)
    await pc.start()
    try:
        async for s in start_stack(tmp_path, hubspot_emulator, pc, **aws):
            yield s
    finally:
        await pc.stop()


@pytest.fixture
async def stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(tmp_path, hubspot_emulator, partnercentral_emulator):
        yield s
