"""Flow 2: which of the partner's solutions an opportunity is associated with (seed 000 §5), and a cache of
``ListSolutions`` (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListSolutions.html).

Ranking weights from the seed: use case exact match +15, industry alignment +5, keyword in deal text +2 per
word, category match +10; top 10 (AWS allows at most 10 solutions per opportunity). A manual list in
``aws_solution_ids`` overrides the matcher; ``fallback_solution_id`` is used when nothing matches.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from cosync_worker.logs import get_logger

from . import audit
from .client import PartnerCentralClient, Priority
from .config import AwsConfig
from .mapping import industry_label

if TYPE_CHECKING:
    from .deps import Deps

__all__ = [
    "MAX_SOLUTIONS",
    "REMATCH_PROPERTIES",
    "SolutionCache",
    "choose_solutions",
    "rank_solutions",
    "rematch",
    "rematch_plan",
    "score_solution",
]

log = get_logger("cosync.aws")
# A change of these after the creation re-runs the choice (seed 000 §5: the override, or the matcher's input).
REMATCH_PROPERTIES = frozenset({"aws_solution_ids", "aws_use_case"})

MAX_SOLUTIONS = 10
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"and", "the", "for", "with", "aws", "on", "as", "a", "of", "to", "service", "solution"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def score_solution(solution: dict[str, Any], deal: dict[str, Any], company: dict[str, Any] | None) -> int:
    """Pure: the seed's relevance score of one solution for a deal."""
    name = str(solution.get("Name") or "")
    category = str(solution.get("Category") or "").lower()
    name_words = _words(name)
    score = 0
    use_case = str(deal.get("aws_use_case") or "")
    for part in (p.strip() for p in use_case.split("/") if p.strip()):
        if _words(part) and _words(part) <= name_words:
            score += 15
            break
    raw_industry = str((company or {}).get("industry") or "")
    # HubSpot's enum (HOSPITAL_HEALTH_CARE) and Partner Central's label (Healthcare) name it differently.
    industry = f"{raw_industry.replace('_', ' ')} {industry_label(raw_industry) or ''}"
    if _words(industry) & name_words:
        score += 5
    text = _words(f"{deal.get('dealname') or ''} {deal.get('description') or ''}")
    score += 2 * len(text & name_words)
    if use_case and category and (category in use_case.lower() or use_case.lower() in category):
        score += 10
    return score


def rank_solutions(
    solutions: list[dict[str, Any]], deal: dict[str, Any], company: dict[str, Any] | None
) -> list[tuple[str, int]]:
    """Pure: ``[(solution id, score)]`` of Active solutions scoring above 0, best first, at most 10."""
    scored = [
        (str(s["Id"]), score_solution(s, deal, company), str(s.get("Name") or ""))
        for s in solutions
        if s.get("Status") == "Active"
    ]
    scored = [s for s in scored if s[1] > 0]
    scored.sort(key=lambda s: (-s[1], s[2]))
    return [(ident, score) for ident, score, _ in scored[:MAX_SOLUTIONS]]


def choose_solutions(
    solutions: list[dict[str, Any]], deal: dict[str, Any], company: dict[str, Any] | None, config: AwsConfig
) -> list[str]:
    """Pure: manual override, else the matcher, else the configured single fallback."""
    manual = [s.strip() for s in str(deal.get("aws_solution_ids") or "").split(",") if s.strip()]
    if manual:
        return list(dict.fromkeys(manual))[:MAX_SOLUTIONS]
    ranked = [ident for ident, _ in rank_solutions(solutions, deal, company)]
    if ranked:
        return ranked
    return [config.fallback_solution_id] if config.fallback_solution_id else []


class SolutionCache:
    """Every solution of the catalog, listed once per ``solution_cache_seconds`` (a few reads, not one per deal)."""

    def __init__(self, pc: PartnerCentralClient, ttl_seconds: float) -> None:
        self.pc = pc
        self.ttl = ttl_seconds
        self._items: list[dict[str, Any]] = []
        self._at = float("-inf")

    async def all(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._at > self.ttl:
            self._items = await self.pc.paginate("ListSolutions", "SolutionSummaries", MaxResults=100)
            self._at = time.monotonic()
        return list(self._items)

    async def get(self, ident: str) -> dict[str, Any] | None:
        return next((s for s in await self.all() if s.get("Id") == ident), None)


async def associate(pc: PartnerCentralClient, opp_id: str, solution_ids: list[str]) -> list[str]:
    """AssociateOpportunity for each solution (one write each); returns those associated."""
    done = []
    for ident in solution_ids[:MAX_SOLUTIONS]:
        await pc.call(
            "AssociateOpportunity",
            Priority.UPDATE,
            OpportunityIdentifier=opp_id,
            RelatedEntityType="Solutions",
            RelatedEntityIdentifier=ident,
        )
        done.append(ident)
    return done


def rematch_plan(associated: list[str], chosen: list[str]) -> tuple[list[str], list[str]]:
    """Pure: ``(associate, disassociate)`` turning ``associated`` into ``chosen``. Removals go first, so the
    opportunity never holds more than :data:`MAX_SOLUTIONS` in between."""
    wanted = list(dict.fromkeys(chosen))[:MAX_SOLUTIONS]
    remove = [s for s in associated if s not in wanted]
    add = [s for s in wanted if s not in associated]
    room = MAX_SOLUTIONS - (len(associated) - len(remove))
    return add[: max(room, 0)], remove


async def rematch(deps: Deps, deal_id: str) -> tuple[list[str], list[str]]:
    """The deal's use case or ``aws_solution_ids`` changed: choose again and make the opportunity's solutions
    the new choice (the opportunity's ``RelatedEntityIdentifiers`` is the truth, so a redelivery finds
    nothing left to do). Returns ``(associated, disassociated)``; nothing before the opportunity is linked
    (its creation associates the first choice)."""
    from .hubspot_side import add_note, read_deal  # hubspot_side -> mapping; no cycle, but keep it lazy

    state = (await deps.deals.read(deal_id)).value
    if not state.opportunity_id or state.linked is False or deps.solutions is None:
        return [], []
    opp_id = state.opportunity_id
    async with deps.deal_lock(deal_id):
        bundle = await read_deal(deps.hs, deal_id)
        chosen = choose_solutions(await deps.solutions.all(), bundle.deal, bundle.company, deps.config)
        record = await deps.pc.call("GetOpportunity", Priority.UPDATE, Identifier=opp_id)
        have = [str(s) for s in (record.get("RelatedEntityIdentifiers") or {}).get("Solutions") or []]
        add, remove = rematch_plan(have, chosen)
        for ident in remove:
            await deps.pc.call(
                "DisassociateOpportunity",
                Priority.UPDATE,
                OpportunityIdentifier=opp_id,
                RelatedEntityType="Solutions",
                RelatedEntityIdentifier=ident,
            )
        added = await associate(deps.pc, opp_id, add)
        if not add and not remove:
            return [], []
        now = [s for s in have if s not in remove] + added
        await deps.deals.update(deal_id, lambda st: st.model_copy(update={"solutions": now}))
    await audit.record(
        deps.store,
        opp_id,
        "solutions_rematched",
        audit.SYSTEM_PC,
        deal_id,
        ["GetOpportunity"]
        + ["DisassociateOpportunity"] * len(remove)
        + ["AssociateOpportunity"] * len(added),
        changes={"Solutions": {"old": have, "new": now}},
    )
    parts = [f"added {', '.join(added)}" if added else "", f"removed {', '.join(remove)}" if remove else ""]
    await add_note(
        deps.hs,
        deal_id,
        f"AWS solutions of opportunity {opp_id} re-matched: {'; '.join(p for p in parts if p)}.",
    )
    log.info("aws_solutions_rematched", deal_id=deal_id, opportunity_id=opp_id, added=added, removed=remove)
    return added, remove
