"""``cosync backfill`` while ``cosync run`` works on the same store and emulators (issue 21).

The worker is asked to push some of the very deals the backfill creates (``POST /deals/{id}/sync``), so both
processes write to Partner Central at once, from one shared budget in the store. Partner Central's emulator
enforces the 1 write/s quota (scaled) and records every accepted write: neither process may be throttled by
it, no scaled second may hold more than one write, and nothing may exist twice.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
import yaml

from tests.cli.helpers import spawn

from .conftest import TIME_SCALE
from .test_first_day import run
from .test_sync_deal_and_budget import TOKEN, _with
from .world import NEW_AWS, ORPHAN_OPPORTUNITIES, World, world_config

PUSHED = (*NEW_AWS[:6], *NEW_AWS[-6:])  # the first and the last the backfill creates (soonest close first)
# The emulator (``quota_pc``) checks the quota on each write's arrival, in a window of 1/TIME_SCALE s. The
# clients pace at the published rate itself, with no margin: a write leaves one window after the previous
# write's answer (the only instant known to follow its arrival), whichever process sent it, however busy the
# machine.


async def test_backfill_and_a_running_worker_share_the_write_quota_and_duplicate_nothing(
    world: World, tmp_path: Path
) -> None:
    path = _with(
        world_config(tmp_path, world, TIME_SCALE),
        relay={"enabled": True, "port": 0, "api_tokens": [TOKEN]},
        hubspot={"create_properties": True},
        **{"connectors.aws": {"write_rate_per_second": TIME_SCALE}},
    )
    await run(tmp_path, path, "properties", "create")
    seeded = len(world.opportunities())
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # ``cosync run`` in a process of its own (the emulators' event loop is this one's and must not wait on
    # the worker's work), its relay on a port picked here.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Only AWS runs: the other clouds' loops (Microsoft's referral poll makes deals) are not under test here.
    data = yaml.safe_load(_with(path, relay={"port": port}).read_text())
    data["plugins"] |= {"microsoft": False, "gcp": False}
    for cloud in ("microsoft", "gcp"):
        data["connectors"].pop(cloud, None)
    path.write_text(yaml.safe_dump(data))
    relay = f"http://127.0.0.1:{port}"
    worker = await spawn(tmp_path, "run", "-c", str(path))
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                assert worker.returncode is None and time.monotonic() < deadline, "cosync run did not start"
                try:
                    async with http.get(f"{relay}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            backfill = await spawn(tmp_path, "backfill", "--connector", "aws", "-c", str(path))
            for i in PUSHED:
                url = f"{relay}/deals/{world.deal_ids[i]}/sync"
                async with http.post(url, headers=headers, params={"connector": "aws"}) as r:
                    assert r.status == 202
            out, err = await asyncio.wait_for(backfill.communicate(), 300)  # a generous upper bound
            assert backfill.returncode == 0, (out + err).decode()[-2000:]
            made = {f"hubspot-deal-{world.deal_ids[i]}" for i in PUSHED}
            while not made <= {o.get("PartnerOpportunityIdentifier") for o in world.opportunities().values()}:
                assert time.monotonic() < deadline + 300, "the worker did not push its deals"
                await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        await worker.wait()

    writes = world.pc.writes
    assert writes.refused == 0, "a process was throttled by Partner Central's write quota"
    assert 0 < writes.max_rate_observed <= writes.rate  # per scaled second, from the accepted writes' times
    assert world.duplicates() == {}
    assert len(world.opportunities()) == seeded + len(NEW_AWS)
    deals = world.deals()
    assert len(deals) == 300 + ORPHAN_OPPORTUNITIES  # only AWS ran: one deal per orphan opportunity
    for i in NEW_AWS:
        opportunity = world.opportunities()[deals[world.deal_ids[i]]["aws_opportunity_id"]]
        assert opportunity["PartnerOpportunityIdentifier"] == f"hubspot-deal-{world.deal_ids[i]}"
