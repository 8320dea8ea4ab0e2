"""Flow 2: the relevance matcher as a pure function (each of the seed's weights on its own), and end to end:
the solutions a new opportunity is associated with, as Partner Central's record holds them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cosync_aws.config import AwsConfig
from cosync_aws.solutions import MAX_SOLUTIONS, choose_solutions, rank_solutions, score_solution

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import Stack, start_stack, wait_until
from .test_create import GOOD_DEAL


def _solution(
    ident: str, name: str, category: str = "Consulting Service", status: str = "Active"
) -> dict[str, Any]:
    return {"Id": ident, "Name": name, "Category": category, "Status": status}


def test_each_weight_of_the_seed() -> None:
    migration = _solution("S-1", "Database Migration Service")
    plain = {"dealname": "x", "description": ""}
    assert score_solution(migration, plain, None) == 0
    # Use case exact match +15 (one part of "a/b" whose words are all in the name)
    assert score_solution(migration, {**plain, "aws_use_case": "Migration/Database Migration"}, None) == 15
    # Industry alignment +5, from HubSpot's enum or Partner Central's label for it
    health = _solution("S-2", "Healthcare Data Exchange", "Software Product")
    assert score_solution(health, plain, {"industry": "HOSPITAL_HEALTH_CARE"}) == 5
    # Keyword in the deal text +2 per word of the name (short and stop words do not count)
    assert (
        score_solution(migration, {"dealname": "Database migration for the ERP", "description": ""}, None)
        == 4
    )
    # Category match +10
    training = _solution("S-3", "Bootcamp", "Training")
    assert score_solution(training, {**plain, "aws_use_case": "Training"}, None) == 10


def test_rank_keeps_active_matches_best_first_and_at_most_ten() -> None:
    solutions = [_solution(f"S-{i}", f"Kafka streaming pack {i}") for i in range(14)]
    solutions.append(_solution("S-best", "Kafka streaming analytics"))
    solutions.append(_solution("S-off", "Kafka streaming analytics", status="Inactive"))
    solutions.append(_solution("S-none", "Unrelated thing"))
    deal = {"dealname": "Kafka streaming analytics", "description": ""}
    ranked = rank_solutions(solutions, deal, None)
    assert len(ranked) == MAX_SOLUTIONS
    assert ranked[0] == ("S-best", 6)
    ids = [i for i, _ in ranked]
    assert "S-off" not in ids and "S-none" not in ids


def test_manual_override_then_matcher_then_fallback() -> None:
    config = AwsConfig(fallback_solution_id="S-fallback")
    solutions = [_solution("S-1", "Database Migration Service")]
    manual = {"dealname": "Database migration", "aws_solution_ids": "S-9, S-8,S-9,,"}
    assert choose_solutions(solutions, manual, None, config) == ["S-9", "S-8"]
    many = {"dealname": "x", "aws_solution_ids": ",".join(f"S-{i}" for i in range(12))}
    assert len(choose_solutions(solutions, many, None, config)) == MAX_SOLUTIONS
    assert choose_solutions(solutions, {"dealname": "Database migration"}, None, config) == ["S-1"]
    assert choose_solutions(solutions, {"dealname": "Zebra"}, None, config) == ["S-fallback"]
    assert choose_solutions(solutions, {"dealname": "Zebra"}, None, AwsConfig()) == []


FALLBACK = "S-1000008"  # Well-Architected Review in the emulator's seeded catalog


@pytest.fixture
async def fallback_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(
        tmp_path, hubspot_emulator, partnercentral_emulator, fallback_solution_id=FALLBACK
    ):
        yield s


async def _opportunity_of(stack: Stack, props: dict[str, str]) -> dict[str, Any]:
    company = await stack.rep_company()
    deal_id = await stack.rep_deal(props, company)

    async def created() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id")) and bool(stack.notes_of(deal_id))

    await wait_until(created)
    opp: dict[str, Any] = stack.opportunities()[stack.deal(deal_id)["aws_opportunity_id"]]
    opp["_note"] = stack.notes_of(deal_id)[0]
    return opp


async def test_opportunities_are_associated_with_matched_manual_or_fallback_solutions(
    fallback_stack: Stack,
) -> None:
    stack = fallback_stack
    matched = await _opportunity_of(stack, {**GOOD_DEAL, "aws_use_case": "Migration/Database Migration"})
    # Cloud Migration Factory (use case 15 + "cloud", "migration" 4), Database Freedom Migration and SAP on
    # AWS Migration (15 + 2), then the keyword-only matches at 2 each, by name.
    assert matched["RelatedEntityIdentifiers"]["Solutions"] == [
        "S-1000002",
        "S-1000018",
        "S-1000004",
        "S-1000026",
        "S-1000001",
        "S-1000006",
        "S-1000015",
    ]
    assert "Solutions: S-1000002, S-1000018" in matched["_note"]

    manual = await _opportunity_of(
        stack,
        {**GOOD_DEAL, "dealname": "BigCorp second wave #AWS", "aws_solution_ids": "S-1000013,S-1000003"},
    )
    assert manual["RelatedEntityIdentifiers"]["Solutions"] == ["S-1000013", "S-1000003"]

    nothing = await _opportunity_of(
        stack,
        {
            **GOOD_DEAL,
            "dealname": "Zorblax #AWS",
            "description": "Quibble frobnicate wuzzle gronk splee blarg yoink",
        },
    )
    assert nothing["RelatedEntityIdentifiers"]["Solutions"] == [FALLBACK]

    calls = await stack.calls(stack.pc)
    assert calls["AssociateOpportunity"] == 7 + 2 + 1
    assert calls["ListSolutions"] == 1  # one listing (cached) for the three creations
