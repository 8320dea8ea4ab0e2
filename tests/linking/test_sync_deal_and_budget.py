"""``cosync sync deal ID``, ``POST /deals/{id}/sync`` and the backfill's budget planning, on the first-day world."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import yaml

from cosync_worker.config import load_settings
from cosync_worker.testing.conformance import running_stack
from tests.cli.helpers import cli

from .conftest import TIME_SCALE
from .test_first_day import all_writes, clear_counters, run
from .world import NEW_AWS, NEW_MS, ORPHAN_OPPORTUNITIES, World, _close, world_config

TOKEN = "first-day-token"


def _with(config: Path, **changes: dict[str, object]) -> Path:
    data = yaml.safe_load(config.read_text())
    for section, values in changes.items():
        target = data
        for part in section.split("."):
            target = target.setdefault(part, {})
        target.update(values)
    config.write_text(yaml.safe_dump(data))
    return config


async def test_a_plan_over_the_days_quota_says_so_up_front_and_does_the_soonest_first(
    world: World, tmp_path: Path
) -> None:
    config = _with(world_config(tmp_path, world, TIME_SCALE), **{"connectors.aws": {"daily_write_cap": 120}})
    await run(tmp_path, config, "properties", "create")
    clear_counters(world)
    out, _ = await run(tmp_path, config, "backfill", "--dry-run", "--json", "--connector", "aws")
    assert all_writes(world) == {}
    plan = json.loads(out)
    (budget,) = plan["budget"]
    # Each creation costs CreateOpportunity and one AssociateOpportunity per solution it would get.
    assert budget["creations"] == len(NEW_AWS) and budget["writes"] > 2 * len(NEW_AWS)
    assert 0 < budget["now"] < len(NEW_AWS) and budget["deferred"] == len(NEW_AWS) - budget["now"]
    assert budget["seconds"] > 0 and budget["resume_after"]
    soonest = sorted(NEW_AWS, key=lambda i: (_close(i), world.deal_ids[i]))[: budget["now"]]
    planned = [a["deal_id"] for a in plan["actions"] if a["action"] == "create_remote"]
    assert sorted(planned) == sorted(world.deal_ids[i] for i in soonest)
    text, _ = await run(tmp_path, config, "backfill", "--dry-run", "--connector", "aws")
    assert f"does not fit the plan: {budget['now']} creation(s) now" in text
    assert f"{budget['deferred']} after" in text
    # --since narrows the creations to recent deals; matching and deals for remote records are unchanged.
    out, _ = await run(
        tmp_path, config, "backfill", "--dry-run", "--json", "--connector", "aws", "--since", "2099-01-01"
    )
    counts = json.loads(out)["counts"]["aws"]
    assert counts["create_remote"] == 0 and counts["create_deal"] == ORPHAN_OPPORTUNITIES
    assert all_writes(world) == {}

    # The real run does what fits today; a rerun the same day creates nothing more and says when to resume.
    out, _ = await run(tmp_path, config, "backfill", "--json", "--connector", "aws")
    done = json.loads(out)
    assert done["done"]["create_remote"] == budget["now"]
    assert world.pc.calls["CreateOpportunity"] >= budget["now"]
    made = {o.get("PartnerOpportunityIdentifier") for o in world.opportunities().values()}
    assert {f"hubspot-deal-{d}" for d in planned} <= made
    again = json.loads((await run(tmp_path, config, "backfill", "--json", "--connector", "aws"))[0])
    assert again["done"].get("create_remote", 0) == 0 and again["budget"][0]["now"] == 0
    assert again["budget"][0]["resume_after"] and len(again["deferred"]) == budget["deferred"]


async def test_sync_one_deal_now_from_the_cli_for_one_connector(world: World, tmp_path: Path) -> None:
    config = world_config(tmp_path, world, TIME_SCALE)
    await run(tmp_path, config, "properties", "create")
    clear_counters(world)
    aws_deal, ms_deal = world.deal_ids[NEW_AWS[0]], world.deal_ids[NEW_MS[0]]
    out, _ = await run(tmp_path, config, "sync", "deal", aws_deal, "--connector", "aws")
    assert [json.loads(line)["outcome"] for line in out.splitlines()] == ["ack", "ack"]
    opportunity = world.deals()[aws_deal]["aws_opportunity_id"]
    assert world.opportunities()[opportunity]["PartnerOpportunityIdentifier"] == f"hubspot-deal-{aws_deal}"
    assert "microsoft" not in all_writes(world) and "google" not in all_writes(world)
    # Every connector when none is named: the Microsoft deal gets its referral.
    await run(tmp_path, config, "sync", "deal", ms_deal)
    assert world.deals()[ms_deal]["microsoft_referral_id"]

    code, _, err = await cli(tmp_path, "sync", "deal", "12x", "-c", str(config))
    assert code == 2 and "a HubSpot deal id is a number" in err and "12x" not in err
    code, _, err = await cli(tmp_path, "sync", "deal", aws_deal, "--connector", "nope", "-c", str(config))
    assert code == 2 and "known: aws, gcp, microsoft" in err and "nope" not in err
    code, _, err = await cli(tmp_path, "sync", "deal", "99999999", "-c", str(config))
    assert code == 1 and "no deal has this id" in err


async def test_post_deals_id_sync_queues_the_push_through_the_relay(world: World, tmp_path: Path) -> None:
    path = _with(
        world_config(tmp_path, world, TIME_SCALE),
        relay={"enabled": True, "port": 0, "api_tokens": [TOKEN]},
        hubspot={"create_properties": True},
    )
    data = yaml.safe_load(path.read_text())
    data["plugin_modules"] = ["cosync_aws.plugin", "cosync_gcp.plugin", "cosync_microsoft.plugin"]
    path.write_text(yaml.safe_dump(data))
    settings = load_settings(str(path))
    deal = world.deal_ids[NEW_AWS[1]]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        running_stack(settings, world.hs, require_properties=True) as stack,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            f"{stack.url}/deals/{deal}/sync", headers=headers, params={"connector": "aws"}
        ) as r:
            assert r.status == 202
            body = await r.json()
        assert body["dealId"] == deal and body["connectors"] == ["aws"] and len(body["events"]) == 2
        await stack.settle()
        opportunity = world.deals()[deal]["aws_opportunity_id"]
        assert world.opportunities()[opportunity]["PartnerOpportunityIdentifier"] == f"hubspot-deal-{deal}"
        for url, params, status in (
            (f"/deals/{deal}x/sync", {}, 400),
            ("/deals/99999999/sync", {}, 404),
            (f"/deals/{deal}/sync", {"connector": "nope"}, 404),
        ):
            async with http.post(stack.url + url, headers=headers, params=params) as r:
                assert r.status == status
                assert "nope" not in await r.text() and "x/sync" not in await r.text()
        async with http.post(f"{stack.url}/deals/{deal}/sync") as r:
            assert r.status == 401
