"""A Google lead creation whose outcome is unknown never makes a second lead (``leads.create`` takes no request
id and Google cannot look a lead up by ``externalSystemId``).

Two ways in: a backfill killed (-9) between ``leads.create`` and recording its answer (the emulator creates
the lead and holds the answer until released, so the kill lands exactly in that window: the fault is driven,
not timed), and an answer lost after the lead was created (a 503, or the connection dropped). Both leave the
deal in error saying what to do; once a person names the lead on the deal, the next run adopts it after
``leads.get`` shows it was made from that deal. The emulator here offers no lookup by ``externalSystemId``,
as Google does not, unless a test turns the sandbox's operator lookup back on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
from aiohttp import web

from cosync_worker.sandbox.faults import Fault
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.testing.emulators import started_holding
from tests.cli.helpers import cli, spawn

from .conftest import TIME_SCALE
from .test_first_day import run
from .world import NEW_GCP, World, world_config

Lost = Literal["503", "dropped", "refused"]


class HoldingGoogle(GoogleEmulator):
    """Creates each lead, then holds the answer while ``holding``: the caller dies with it unrecorded.
    ``lose`` loses the next create's answer: after creating the lead (a 503, a dropped connection) or before
    (``refused``: a 503 with nothing created). ``lookup`` serves the sandbox's lookup by externalSystemId."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.holding = True
        self.released = asyncio.Event()
        self.lose: Lost | None = None
        self.lookup = False

    async def _create_lead(self, request: web.Request) -> web.Response:
        lose, self.lose = self.lose, None
        if lose == "refused":
            return self.fault_response(request, Fault("error"))
        response = await super()._create_lead(request)
        if lose == "dropped":
            assert request.transport is not None
            request.transport.close()
        elif lose == "503":
            return self.fault_response(request, Fault("error"))
        if self.holding and response.status == 200:
            await self.released.wait()
        return response

    async def _op_find_leads(self, request: web.Request) -> web.Response:
        if not self.lookup:
            return web.json_response({"error": "Google has no lookup by externalSystemId"}, status=404)
        return await super()._op_find_leads(request)


@pytest_asyncio.fixture
async def google_emulator() -> AsyncIterator[GoogleEmulator]:
    async with started_holding(HoldingGoogle(rate_per_second=100.0)) as emulator:
        yield emulator


async def _one_creation(world: World, tmp_path: Path) -> tuple[HoldingGoogle, Path, str]:
    """The emulator, the config and the one deal left for Google to create (the others untagged), so exactly
    one request is ever in flight."""
    google = world.google
    assert isinstance(google, HoldingGoogle)
    config = world_config(tmp_path, world, TIME_SCALE)
    await run(tmp_path, config, "properties", "create")
    for i in NEW_GCP[1:]:
        record = world.hs.portal.get("deals", world.deal_ids[i])
        name = str(record.properties["dealname"]).replace(" #GCP", "")
        world.hs.portal.update(record, {"dealname": name}, _actor(world))
    return google, config, world.deal_ids[NEW_GCP[0]]


def _actor(world: World) -> Any:
    return world.hs.actors[world.hs.user_token]


def _name_lead(world: World, deal_id: str, lead: str) -> None:
    world.hs.portal.update(world.hs.portal.get("deals", deal_id), {"gcp_lead_name": lead}, _actor(world))


def _creates(google: GoogleEmulator) -> int:
    return google.calls["POST /v1/partners/{partner}/leads"]


def _leads_by_deal(world: World) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, lead in world.google.leads().items():
        found.setdefault(str(lead.get("externalSystemId")), []).append(name)
    return found


async def test_a_kill_after_leads_create_is_recovered_without_a_second_lead(
    world: World, tmp_path: Path
) -> None:
    google, config, target = await _one_creation(world, tmp_path)
    seeded = len(google.leads())
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
    _name_lead(world, target, other)
    code, _, _ = await cli(tmp_path, "backfill", "--connector", "gcp", "-c", str(config))
    assert code == 1 and "not created from this deal" in world.deals()[target]["gcp_sync_error"]

    # -- a person names the lead (found in the Partners portal); the next run adopts it, creating none ---
    # Meanwhile the rep changed the amount: the lead carries the value of the killed run, so the adoption
    # must not take the deal's current values for what Google holds (the SQS fault suite's stale Google deal).
    world.hs.portal.update(world.hs.portal.get("deals", target), {"amount": "4321"}, _actor(world))
    _name_lead(world, target, lead)
    await run(tmp_path, config, "backfill", "--connector", "gcp")
    assert len(google.leads()) == seeded + 1
    assert world.duplicates() == {}
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "synced" and deal["gcp_opportunity_id"], deal
    [opportunity] = [o for o in google.opportunities().values() if o.get("lead") == lead]
    assert opportunity.get("dealSize") == 4321.0


@pytest.mark.parametrize("lose", ["503", "dropped"])
async def test_a_lost_answer_to_leads_create_is_never_retried_into_a_second_lead(
    world: World, tmp_path: Path, lose: Lost
) -> None:
    google, config, target = await _one_creation(world, tmp_path)
    google.holding = False
    seeded, sent = len(google.leads()), _creates(google)
    google.lose = lose

    # -- the client sends leads.create once: its answer is lost, so the lead may exist ----------------------
    code, out, _ = await cli(tmp_path, "backfill", "--connector", "gcp", "--json", "-c", str(config))
    assert code == 1
    assert [f["action"] for f in json.loads(out)["failed"]] == [f"gcp:create_remote:{target}"]
    (lead,) = _leads_by_deal(world)[f"hubspot-deal-{target}"]
    assert _creates(google) == sent + 1 and len(google.leads()) == seeded + 1
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "error" and not deal.get("gcp_lead_name")
    error = deal["gcp_sync_error"]
    assert f"externalSystemId hubspot-deal-{target}" in error and "set gcp_lead_name" in error, error

    # -- a rerun (Google answering again) still creates nothing --------------------------------------------
    code, _, _ = await cli(tmp_path, "backfill", "--connector", "gcp", "-c", str(config))
    assert code == 1 and _creates(google) == sent + 1 and len(google.leads()) == seeded + 1

    # -- the person names the lead; the next run adopts it ------------------------------------------------
    _name_lead(world, target, lead)
    await run(tmp_path, config, "backfill", "--connector", "gcp")
    assert _creates(google) == sent + 1 and world.duplicates() == {}
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "synced" and deal["gcp_lead_name"] == lead, deal


@pytest.mark.parametrize("lose", ["503", "refused"])
async def test_where_leads_can_be_looked_up_a_lost_answer_settles_itself(
    world: World, tmp_path: Path, lose: Lost
) -> None:
    """The sandbox's lookup stands in for the person: the lead made is adopted, and a 503 that created
    nothing (the lookup finds none) is created once more."""
    google, config, target = await _one_creation(world, tmp_path)
    google.holding, google.lookup, google.lose = False, True, lose
    seeded, sent = len(google.leads()), _creates(google)

    await run(tmp_path, config, "backfill", "--connector", "gcp")
    (lead,) = _leads_by_deal(world)[f"hubspot-deal-{target}"]
    assert len(google.leads()) == seeded + 1 and world.duplicates() == {}
    assert _creates(google) == sent + (2 if lose == "refused" else 1)
    deal = world.deals()[target]
    assert deal["gcp_sync_status"] == "synced" and deal["gcp_lead_name"] == lead, deal
