"""A backfill killed (-9) between Google's ``leads.create`` and recording its answer creates no second lead.

The Google emulator here creates each lead and then never answers until released, so the kill lands exactly
in that window (the fault is driven, not timed). Google cannot look a lead up by ``externalSystemId``, so the
rerun leaves those deals in error saying what to do; once a person names the lead on the deal, the next run
adopts it after ``leads.get`` shows it was made from that deal.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp import web

from cosync_worker.sandbox.google import GoogleEmulator
from tests.cli.helpers import cli, spawn

from .conftest import TIME_SCALE
from .test_first_day import run
from .world import NEW_GCP, World, world_config


class HoldingGoogle(GoogleEmulator):
    """Creates each lead, then holds the answer while ``holding``: the caller dies with it unrecorded."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.holding = True
        self.released = asyncio.Event()

    async def _create_lead(self, request: web.Request) -> web.Response:
        response = await super()._create_lead(request)
        if self.holding and response.status == 200:
            await self.released.wait()
        return response


@pytest_asyncio.fixture
async def google_emulator() -> AsyncIterator[GoogleEmulator]:
    emulator = HoldingGoogle(rate_per_second=100.0)
    await emulator.start()
    try:
        yield emulator
    finally:
        emulator.released.set()
        await emulator.stop()


def _leads_by_deal(world: World) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, lead in world.google.leads().items():
        found.setdefault(str(lead.get("externalSystemId")), []).append(name)
    return found


async def test_a_kill_after_leads_create_is_recovered_without_a_second_lead(
    world: World, tmp_path: Path
) -> None:
    google = world.google
    assert isinstance(google, HoldingGoogle)
    config = world_config(tmp_path, world, TIME_SCALE)
    await run(tmp_path, config, "properties", "create")
    seeded = len(google.leads())
    # One creation only, so the kill finds exactly one request in flight (the held one).
    actor = world.hs.actors[world.hs.user_token]
    target = world.deal_ids[NEW_GCP[0]]
    for i in NEW_GCP[1:]:
        record = world.hs.portal.get("deals", world.deal_ids[i])
        name = str(record.properties["dealname"]).replace(" #GCP", "")
        world.hs.portal.update(record, {"dealname": name}, actor)

    proc = await spawn(tmp_path, "backfill", "--connector", "gcp", "-c", str(config))
    deadline = time.monotonic() + 60
    while len(google.leads()) == seeded:
        assert proc.returncode is None and time.monotonic() < deadline, "backfill ended before a lead"
        await asyncio.sleep(0.02)
    proc.kill()
    await proc.wait()
    google.holding = False
    google.released.set()
    (lead,) = _leads_by_deal(world)[f"hubspot-deal-{target}"]
    assert not world.deals()[target].get("gcp_lead_name")

    # -- the rerun creates no second lead and says why: Google cannot look the first one up --------------
    code, out, _ = await cli(tmp_path, "backfill", "--connector", "gcp", "--json", "-c", str(config))
    assert code == 1
    assert [f["action"] for f in json.loads(out)["failed"]] == [f"gcp:create_remote:{target}"]
    assert len(google.leads()) == seeded + 1
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "error" and f"hubspot-deal-{target}" in deal["gcp_sync_error"]

    # -- a lead of another deal named by mistake is refused --------------------------------------------
    other = next(
        n for n, x in google.leads().items() if x.get("externalSystemId") != f"hubspot-deal-{target}"
    )
    world.hs.portal.update(world.hs.portal.get("deals", target), {"gcp_lead_name": other}, actor)
    code, _, _ = await cli(tmp_path, "backfill", "--connector", "gcp", "-c", str(config))
    assert code == 1 and "not created from this deal" in world.deals()[target]["gcp_sync_error"]

    # -- a person names the lead (found in the Partners portal); the next run adopts it, creating none ---
    world.hs.portal.update(world.hs.portal.get("deals", target), {"gcp_lead_name": lead}, actor)
    await run(tmp_path, config, "backfill", "--connector", "gcp")
    assert len(google.leads()) == seeded + 1
    assert world.duplicates() == {}
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "synced" and deal["gcp_opportunity_id"], deal
