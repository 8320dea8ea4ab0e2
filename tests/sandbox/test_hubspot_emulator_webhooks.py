"""HubSpot emulator: signed webhook batches (verified independently), retries, and rate limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.hubspot import ratelimit as hubspot_ratelimit
from cosync_worker.testing.clock import drive_time

SECRET = "sandbox-hubspot-secret"


def verify_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str, signature: str) -> bool:
    """HubSpot's documented v3 check, written independently of the emulator's signer."""
    if abs(time.time() * 1000 - int(timestamp)) > 5 * 60 * 1000:
        return False
    message = f"{method}{uri}".encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.verified: list[bool] = []
        self.fail_first = fail_first
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.verified.append(
            verify_v3(
                SECRET,
                request.method,
                self.url,
                body,
                request.headers["X-HubSpot-Request-Timestamp"],
                request.headers["X-HubSpot-Signature-v3"],
            )
        )
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.batches.append(json.loads(body))
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(fail_first=1)
    app = web.Application()
    app.router.add_post("/hooks", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hooks"
    yield rec
    await runner.cleanup()


async def test_signed_batches_with_retry_and_change_source(
    hubspot_emulator: HubSpotEmulator, receiver: Receiver
) -> None:
    async with aiohttp.ClientSession(hubspot_emulator.base_url) as s:
        async with s.post(
            "/_sandbox/webhooks",
            json={
                "target_url": receiver.url,
                "subscriptions": ["deal.creation", "deal.propertyChange", "deal.deletion"],
            },
        ) as r:
            assert r.status == 200
        app = {"Authorization": "Bearer sandbox-hubspot-token"}
        user = {"Authorization": "Bearer sandbox-hubspot-user-token"}
        async with s.post("/crm/v3/objects/deals", json={"properties": {"dealname": "W"}}, headers=app) as r:
            deal = await r.json()
        async with s.patch(
            f"/crm/v3/objects/deals/{deal['id']}",
            json={"properties": {"dealstage": "closedwon"}},
            headers=user,
        ) as r:
            assert r.status == 200
        async with s.delete(f"/crm/v3/objects/deals/{deal['id']}", headers=user) as r:
            assert r.status == 204
        await asyncio.wait_for(hubspot_emulator.drain_webhooks(), timeout=10)
        async with s.get("/_sandbox/webhooks/deliveries") as r:
            stats = await r.json()
    assert receiver.verified and all(receiver.verified)
    events = [e for batch in receiver.batches for e in batch]
    assert stats["delivered"] == len(events) == 4 and stats["failed_attempts"] == 1
    by_type = {(e["subscriptionType"], e.get("propertyName")): e for e in events}
    created = by_type[("deal.creation", None)]
    assert (
        created["changeSource"] == "INTEGRATION"
        and created["sourceId"] == "424242"
        and created["attemptNumber"] == 1
    )
    assert (
        created["objectId"] == int(deal["id"]) and created["portalId"] == 62515 and created["appId"] == 424242
    )
    stage = by_type[("deal.propertyChange", "dealstage")]
    assert stage["propertyValue"] == "closedwon" and stage["changeSource"] == "CRM_UI"
    assert stage["sourceId"].startswith("userId:")
    assert ("deal.deletion", None) in by_type and ("deal.propertyChange", "dealname") in by_type


async def test_association_changes_are_sent_for_both_ends_as_hubspot_sends_them(
    hubspot_emulator: HubSpotEmulator, receiver: Receiver
) -> None:
    """v4 associate and remove: ``deal.associationChange`` and ``company.associationChange``, each with itself
    as ``fromObjectId``, no ``objectId``, the association's type and whether it was removed."""
    receiver.fail_first = 0
    hubspot_emulator.subscribe(receiver.url, ["deal.associationChange", "company.associationChange"])
    user = {"Authorization": "Bearer sandbox-hubspot-user-token"}
    async with aiohttp.ClientSession(hubspot_emulator.base_url, headers=user) as s:
        async with s.post("/crm/v3/objects/deals", json={"properties": {"dealname": "A"}}) as r:
            deal = str((await r.json())["id"])
        async with s.post("/crm/v3/objects/companies", json={"properties": {"name": "C"}}) as r:
            company = str((await r.json())["id"])
        path = f"/crm/v4/objects/deals/{deal}/associations"
        async with s.put(f"{path}/default/companies/{company}") as r:
            assert r.status == 200
        async with s.delete(f"{path}/companies/{company}") as r:
            assert r.status == 204
        async with s.delete(f"{path}/companies/{company}") as r:  # nothing left to remove: no event
            assert r.status == 204
    await asyncio.wait_for(hubspot_emulator.drain_webhooks(), timeout=10)
    events = [e for batch in receiver.batches for e in batch]
    seen = sorted(
        (
            e["subscriptionType"],
            e["fromObjectId"],
            e["toObjectId"],
            e["associationType"],
            e["associationRemoved"],
        )
        for e in events
    )
    assert seen == sorted(
        [
            ("deal.associationChange", int(deal), int(company), "DEAL_TO_COMPANY", False),
            ("company.associationChange", int(company), int(deal), "COMPANY_TO_DEAL", False),
            ("deal.associationChange", int(deal), int(company), "DEAL_TO_COMPANY", True),
            ("company.associationChange", int(company), int(deal), "COMPANY_TO_DEAL", True),
        ]
    )
    assert all("objectId" not in e and e["changeSource"] == "CRM_UI" for e in events)


async def test_batch_size_respected(receiver: Receiver) -> None:
    receiver.fail_first = 0
    emu = HubSpotEmulator(webhook_batch_size=2, webhook_flush_seconds=0.1)
    await emu.start()
    try:
        emu.subscribe(receiver.url, ["contact.creation"])
        async with aiohttp.ClientSession(
            emu.base_url, headers={"Authorization": "Bearer sandbox-hubspot-token"}
        ) as s:
            body = {"inputs": [{"properties": {"email": f"{i}@x.io"}} for i in range(5)]}
            async with s.post("/crm/v3/objects/contacts/batch/create", json=body) as r:
                assert r.status == 201
        await asyncio.wait_for(emu.drain_webhooks(), timeout=10)
    finally:
        await emu.stop()
    assert sorted(len(b) for b in receiver.batches) == [1, 2, 2]


async def test_burst_and_search_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    drive_time(monkeypatch, hubspot_ratelimit)  # the windows stand still: every call lands in one of each
    emu = HubSpotEmulator(burst_limit=100, burst_window_seconds=10.0, search_per_second=5)
    await emu.start()
    try:
        async with aiohttp.ClientSession(
            emu.base_url, headers={"Authorization": "Bearer sandbox-hubspot-token"}
        ) as s:
            for i in range(100):
                async with s.get("/crm/v3/owners") as r:
                    assert r.status == 200, i
                    assert r.headers["X-HubSpot-RateLimit-Remaining"] == str(99 - i)
            async with s.get("/crm/v3/owners") as r:
                body = await r.json()
                assert r.status == 429
                assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
                assert body["message"] == "You have reached your ten_secondly_rolling limit."
                assert body["status"] == "error" and body["correlationId"]
                assert r.headers["X-HubSpot-RateLimit-Max"] == "100"
                assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
                assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
                assert "X-HubSpot-RateLimit-Daily" in r.headers and int(r.headers["Retry-After"]) >= 1
            # the user token has its own window
            async with s.get(
                "/crm/v3/owners", headers={"Authorization": "Bearer sandbox-hubspot-user-token"}
            ) as r:
                assert r.status == 200
            statuses = []
            for _ in range(6):
                async with s.post("/crm/v3/objects/deals/search", json={"limit": 1}) as r:
                    statuses.append(r.status)
                    last = await r.json()
            assert statuses == [200] * 5 + [429]
            assert (
                last["policyName"] == "SECONDLY"
                and last["message"] == "You have reached your secondly limit."
            )
    finally:
        await emu.stop()


async def test_reset_forgets_objects_but_keeps_subscriptions(hubspot_emulator: HubSpotEmulator) -> None:
    hubspot_emulator.subscribe("http://127.0.0.1:9/none", ["company.creation"])
    async with aiohttp.ClientSession(hubspot_emulator.base_url) as s:
        headers = {"Authorization": "Bearer sandbox-hubspot-token"}
        async with s.post(
            "/crm/v3/objects/companies", json={"properties": {"name": "R"}}, headers=headers
        ) as r:
            assert r.status == 201
        assert len(hubspot_emulator.objects("companies")) == 1
        async with s.get("/_sandbox/calls") as r:
            assert (await r.json()) == {"POST /crm/v3/objects/{objectType}": 1}
        async with s.post("/_sandbox/reset") as r:
            assert r.status == 200
        async with s.post("/_sandbox/webhooks", json={"target_url": 5, "subscriptions": []}) as r:
            assert r.status == 400 and "target_url" in (await r.json())["message"]
        async with s.post(
            "/_sandbox/webhooks", json={"target_url": "http://x", "subscriptions": ["deal.nope"]}
        ) as r:
            assert r.status == 400 and "deal.nope" in (await r.json())["message"]
    assert hubspot_emulator.objects("0-2") == {} and hubspot_emulator.calls == {}
    assert len(hubspot_emulator.webhooks.subscriptions) == 1
