"""``cosync backfill`` reconciles linked pairs that differ once, in each connector's configured direction.

AWS settles them as conflicts (``connectors.aws.conflicts``): here the close date is HubSpot's and the stage
Partner Central's. Google receives the deal's values, as its push does. ``--since`` in the future keeps the
creations out, so only links, reconciles and deals for unmatched records run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import TIME_SCALE
from .test_first_day import all_writes, clear_counters, run
from .test_sync_deal_and_budget import _with
from .world import EXACT_AWS, HAND_AWS, MS_AND_GCP, World, world_config

RESTAGED = EXACT_AWS[:5]  # their opportunities moved on in Partner Central
ARGS = ("--accept-above", "0.9", "--since", "2099-01-01", "--json")


def _google_opportunities(world: World) -> dict[str, str]:
    """An opportunity Google made from each seeded lead, holding another amount (and, for half, close date)."""
    made = {}
    for n, i in enumerate(MS_AND_GCP):
        deal_id = world.deal_ids[i]
        props = world.deals()[deal_id]
        day = str(props["closedate"])[:10].split("-")
        name = f"partners/sandbox-partner/opportunities/seeded{i}"
        world.google.opportunities()[name] = {
            "name": name,
            "lead": props["gcp_lead_name"],
            "dealSize": float(props["amount"]) + 1,
            "salesStage": "QUALIFYING",  # what the deal's stage maps to, and its description as the notes
            "notes": props["description"],
            "closeDate": {"year": int(day[0]) + n % 2, "month": int(day[1]), "day": int(day[2])},
        }
        made[deal_id] = name
    return made


def _opportunity_of(world: World, deal_id: str) -> dict[str, Any]:
    return world.opportunities()[world.deals()[deal_id]["aws_opportunity_id"]]


async def test_backfill_reconciles_linked_pairs_once_in_the_configured_direction(
    world: World, tmp_path: Path
) -> None:
    config = _with(
        world_config(tmp_path, world, TIME_SCALE),
        **{
            "connectors.aws.conflicts": {
                "field_strategies": {"closedate": "HUBSPOT_WINS", "dealstage": "PARTNER_CENTRAL_WINS"}
            }
        },
    )
    google = _google_opportunities(world)
    named = {o.get("PartnerOpportunityIdentifier"): o for o in world.opportunities().values()}
    for i in RESTAGED:
        named[f"hubspot-deal-{world.deal_ids[i]}"]["LifeCycle"]["Stage"] = "Qualified"
    await run(tmp_path, config, "properties", "create")
    clear_counters(world)

    # -- the dry run shows each pair that differs and the fields, and writes nothing -------------------
    out, _ = await run(tmp_path, config, "backfill", "--dry-run", *ARGS)
    assert all_writes(world) == {}
    reconciles = {
        (a["connector"], a["deal_id"]): a["differs"]
        for a in json.loads(out)["actions"]
        if a["action"] == "reconcile"
    }
    expected = {("aws", world.deal_ids[i]): ["closedate"] for i in HAND_AWS}
    expected |= {("aws", world.deal_ids[i]): ["dealstage"] for i in RESTAGED}
    expected |= {
        ("gcp", world.deal_ids[i]): ["amount", "closedate"] if n % 2 else ["amount"]
        for n, i in enumerate(MS_AND_GCP)
    }
    assert {k: v for k, v in reconciles.items() if k[0] != "microsoft"} == expected
    text, _ = await run(tmp_path, config, "backfill", "--dry-run", *ARGS[:-1])
    assert "reconcile once (differs)" in text and "dealstage" in text

    # -- the real run applies them: close dates to Partner Central, stages to HubSpot, deals to Google --
    out, _ = await run(tmp_path, config, "backfill", *ARGS)
    assert json.loads(out)["failed"] == []
    deals = world.deals()
    for i in HAND_AWS:
        deal = deals[world.deal_ids[i]]
        assert (
            _opportunity_of(world, world.deal_ids[i])["LifeCycle"]["TargetCloseDate"]
            == deal["closedate"][:10]
        )
    for i in RESTAGED:
        assert deals[world.deal_ids[i]]["dealstage"] == "qualifiedtobuy"
        assert _opportunity_of(world, world.deal_ids[i])["LifeCycle"]["Stage"] == "Qualified"
    for deal_id, name in google.items():
        opportunity, deal = world.google.opportunities()[name], deals[deal_id]
        assert opportunity["dealSize"] == float(deal["amount"])
        assert opportunity["closeDate"] == dict(
            zip(("year", "month", "day"), map(int, deal["closedate"][:10].split("-")), strict=True)
        )

    # -- once: a rerun finds nothing left to reconcile and writes nothing to a cloud ---------------------
    clear_counters(world)
    out, _ = await run(tmp_path, config, "backfill", *ARGS)
    again = json.loads(out)
    assert again["done"].get("reconcile", 0) == 0
    assert not {k for k in all_writes(world) if k != "hubspot"}
