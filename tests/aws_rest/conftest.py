"""The AWS connector's end-to-end harness (tests_aws: the real Runtime between the HubSpot and Partner Central
emulators), with the relay's tokens of seed 002's roles: an admin, two users who own deals in the HubSpot
emulator's portal, a viewer, and a plain string token (the single-token form of earlier releases)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cosync_worker.config import Settings
from cosync_worker.runtime import Runtime, declared_properties
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws"))
from tests_aws.conftest import Stack, settings_dict, wait_until

ADMIN = "rest-admin-token-5d1c"
ADA = "rest-ada-token-77e0"  # ada.rep@example.com, HubSpot owner 70000001
BOB = "rest-bob-token-3b9f"  # bob.seller@example.com, HubSpot owner 70000002
VIEWER = "rest-viewer-token-c4a2"
LEGACY = "rest-legacy-token-0aa1"
ADA_OWNER, ADA_EMAIL = "70000001", "ada.rep@example.com"
BOB_EMAIL = "bob.seller@example.com"
TOKENS: list[Any] = [
    {"token": ADMIN, "user": "ops-admin", "role": "admin"},
    {"token": ADA, "user": ADA_EMAIL, "role": "user"},
    {"token": BOB, "user": BOB_EMAIL, "role": "user"},
    {"token": VIEWER, "user": "vic", "role": "viewer"},
    LEGACY,
]


async def api(stack: Stack, method: str, path: str, body: Any = None, token: str = ADMIN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with stack.session.request(method, f"{stack.rt.relay_url}{path}", json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def rest_stack(
    tmp_path: Path,
    hs: HubSpotEmulator,
    pc: PartnerCentralEmulator,
    *,
    sections: dict[str, Any] | None = None,
    **aws: Any,
) -> AsyncIterator[Stack]:
    """``sections`` replace whole top-level sections of the config (``notify``, ``plugin_modules``...)."""
    data = settings_dict(tmp_path, hs, pc, **aws) | (sections or {})
    data["relay"]["api_tokens"] = TOKENS
    async with Runtime(Settings.model_validate(data)) as rt, aiohttp.ClientSession() as session:
        await rt.start_relay()
        await rt.context.service("hubspot").ensure_properties(declared_properties(rt.plugins))
        sub = hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        pc.set_event_sink(eventbridge_sink(rt.context.queue))
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            yield Stack(rt, hs, pc, session)
        finally:
            await hs.drain_webhooks()  # what HubSpot owes this relay reaches it while it still listens
            hs.unsubscribe(sub)  # a restart listens elsewhere (as tests_aws' start_stack)
            pc.set_event_sink(None)
            rt.stop()
            await asyncio.wait_for(task, 15)


@pytest.fixture
async def stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in rest_stack(
        tmp_path, hubspot_emulator, partnercentral_emulator, conflicts={"manual_fields": ["amount"]}
    ):
        yield s


async def job_done(stack: Stack, job_id: str) -> dict[str, Any]:
    """The job once it finished (``GET /jobs/{id}``)."""
    found: dict[str, Any] = {}

    async def finished() -> bool:
        status, body = await api(stack, "GET", f"/jobs/{job_id}")
        assert status == 200, body
        found.update(body)
        return body["status"] in ("succeeded", "failed")

    await wait_until(finished)
    return found
