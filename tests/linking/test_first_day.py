"""The first day on the emulators (issue 21): a populated portal linked, backfilled, killed and resumed.

Everything runs as a user would: ``python -m cosync_worker`` in a directory of its own, against emulators
seeded with the 300-deal world of :mod:`.world`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.cli.helpers import cli, spawn

from .conftest import TIME_SCALE
from .world import (
    CARRIED_AWS,
    EXACT_AWS,
    HAND_AWS,
    MS_AND_GCP,
    NEW_AWS,
    NEW_GCP,
    NEW_MS,
    ORPHAN_OPPORTUNITIES,
    ORPHAN_REFERRALS,
    World,
    world_config,
)

_READS = ("List", "Get", "GET ")
_READ_ENDS = ("/search", "/batch/read")


def writes(calls: Mapping[str, int]) -> dict[str, int]:
    """The calls that may change something (an OAuth token grant changes no data)."""
    return {
        k: n
        for k, n in calls.items()
        if n and not (k.startswith(_READS) or k.endswith(_READ_ENDS) or k.endswith("/token"))
    }


def all_writes(world: World) -> dict[str, dict[str, int]]:
    found = {
        name: writes(e.calls)
        for name, e in (
            ("hubspot", world.hs),
            ("aws", world.pc),
            ("microsoft", world.ms),
            ("google", world.google),
        )
    }
    return {k: v for k, v in found.items() if v}


def clear_counters(world: World) -> None:
    for emulator in (world.hs, world.pc, world.ms, world.google):
        emulator.calls.clear()


async def run(tmp: Path, config: Path, *args: str) -> tuple[str, str]:
    code, out, err = await cli(tmp, *args, "-c", str(config))
    said = [line for line in (out + err).splitlines() if "failed" in line or "error" in line.lower()]
    assert code == 0, f"cosync {' '.join(args)} exited {code}: {said[-20:]}"
    return out, err


def _deal(world: World, i: int) -> dict[str, Any]:
    return world.deals()[world.deal_ids[i]]


async def test_link_then_backfill_a_populated_portal_killed_and_resumed(world: World, tmp_path: Path) -> None:
    config = world_config(tmp_path, world, TIME_SCALE)
    await run(tmp_path, config, "properties", "create")
    clear_counters(world)
    before = world.deals()
    seeded = {
        "opportunities": len(world.opportunities()),
        "referrals": len(world.ms.referrals()),
        "leads": len(world.google.leads()),
    }

    # -- link --dry-run: reads only, everywhere --------------------------------------------------------
    out, _ = await run(tmp_path, config, "link", "--dry-run", "--json")
    plan = json.loads(out)
    assert all_writes(world) == {}
    assert world.deals() == before
    counts = plan["counts"]
    assert counts["aws"] | {"create_remote": 0, "create_deal": 0} == {
        "adopt": len(CARRIED_AWS),
        "link": len(EXACT_AWS),
        "accept": 0,
        "candidate": len(HAND_AWS),
        "create_remote": 0,
        "create_deal": 0,
        "reconcile": 0,
    }
    assert counts["microsoft"]["link"] == len(MS_AND_GCP)
    assert counts["gcp"]["adopt"] == len(MS_AND_GCP)
    candidates = [a for a in plan["actions"] if a["action"] == "candidate"]
    assert {a["deal_id"] for a in candidates} == {world.deal_ids[i] for i in HAND_AWS}
    assert all(a["score"] > 0.9 and a["differs"] == ["closedate"] for a in candidates)

    # -- link: every exact match and only those; nothing sent to a cloud ---------------------------------
    csv_path = tmp_path / "candidates.csv"
    await run(tmp_path, config, "link", "--write-candidates", str(csv_path))
    assert set(all_writes(world)) <= {"hubspot"}
    named = {
        o["PartnerOpportunityIdentifier"]: oid
        for oid, o in world.opportunities().items()
        if o.get("PartnerOpportunityIdentifier")
    }
    for i in EXACT_AWS:
        assert _deal(world, i)["aws_opportunity_id"] == named[f"hubspot-deal-{world.deal_ids[i]}"]
    for i in HAND_AWS:
        assert not _deal(world, i).get("aws_opportunity_id")  # a candidate waits for a person
    deals = world.deals()
    by_aws = {d for d, p in deals.items() if p.get("aws_opportunity_id")}
    assert by_aws == {world.deal_ids[i] for i in (*EXACT_AWS, *CARRIED_AWS)}
    by_referral = {d for d, p in deals.items() if p.get("microsoft_referral_id")}
    assert by_referral == {world.deal_ids[i] for i in MS_AND_GCP}
    assert len(deals) == len(before)  # no deal created by a link

    # -- a person confirms ten candidates in the CSV ----------------------------------------------------
    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert len(rows) == len(HAND_AWS)
    for row in rows[:10]:
        row["accept"] = "yes"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    await run(tmp_path, config, "link", "--apply", str(csv_path))
    linked = {d for d in (world.deal_ids[i] for i in HAND_AWS) if world.deals()[d].get("aws_opportunity_id")}
    assert linked == {r["deal_id"] for r in rows[:10]}

    # -- backfill, killed (-9) in the middle of Partner Central's creations, then run again -------------
    clear_counters(world)
    proc = await spawn(tmp_path, "backfill", "--accept-above", "0.9", "-c", str(config))
    deadline = time.monotonic() + 60
    while world.pc.calls["CreateOpportunity"] < 8:
        assert proc.returncode is None and time.monotonic() < deadline, "backfill ended before the kill"
        await asyncio.sleep(0.02)
    proc.kill()
    await proc.wait()
    await run(tmp_path, config, "backfill", "--accept-above", "0.9")

    assert world.duplicates() == {}
    deals = world.deals()
    # Exactly one of each: one deal per unmatched record, one record per tagged deal that had none.
    assert len(deals) == 300 + ORPHAN_OPPORTUNITIES + ORPHAN_REFERRALS
    assert len(world.opportunities()) == seeded["opportunities"] + len(NEW_AWS)
    assert len(world.ms.referrals()) == seeded["referrals"] + len(NEW_MS)
    assert len(world.google.leads()) == seeded["leads"] + len(NEW_GCP)
    # Linked pairs that differed were reconciled once where the connector can (Microsoft gets the deal's).
    for i in MS_AND_GCP:
        deal = deals[world.deal_ids[i]]
        referral = world.ms.referrals()[deal["microsoft_referral_id"]]
        assert float(referral["details"]["dealValue"]) == float(deal["amount"])
        assert str(referral["details"]["closingDateTime"])[:10] == deal["closedate"][:10]
    for tag, prop in (
        ("#AWS", "aws_opportunity_id"),
        ("#GCP", "gcp_lead_name"),
        ("#Microsoft", "microsoft_referral_id"),
    ):
        unlinked = [
            d for d, p in deals.items() if tag.lower() in str(p.get("dealname")).lower() and not p.get(prop)
        ]
        assert unlinked == [], f"{tag} deals left unlinked: {unlinked[:5]}"

    # -- a third run finds everything done: nothing written anywhere --------------------------------------
    clear_counters(world)
    out, _ = await run(tmp_path, config, "backfill", "--json")
    assert all_writes(world) == {}
    assert json.loads(out)["done"] == {} or set(json.loads(out)["done"]) <= {"adopt"}
