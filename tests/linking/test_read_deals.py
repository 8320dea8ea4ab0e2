"""Reading every deal goes past HubSpot's 10,000-result search window: the emulator has no such cap, so the
window is shrunk to 7 and the deals must still all come back, in id order, once each."""

from __future__ import annotations

import pytest

from cosync_worker.hubspot import HubSpotClient
from cosync_worker.linking import run as linking_run
from cosync_worker.sandbox.hubspot import HubSpotEmulator


async def test_every_deal_is_read_past_the_search_window(
    hubspot_emulator: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = hubspot_emulator.actors[hubspot_emulator.user_token]
    made = [hubspot_emulator.portal.create("deals", {"dealname": f"Deal {n}"}, actor).id for n in range(23)]
    monkeypatch.setattr(linking_run, "SEARCH_WINDOW", 7)
    client = HubSpotClient(
        hubspot_emulator.base_url,
        hubspot_emulator.access_token,
        requests_per_10s=100_000,
        search_per_second=1000,
    )
    async with client:
        deals = await linking_run.read_deals(client, [])
    assert [d.id for d in deals] == made
