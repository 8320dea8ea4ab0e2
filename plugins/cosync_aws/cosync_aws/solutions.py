"""Flow 2: which of the partner's solutions an opportunity is associated with (seed 000 §5), and a cache of
``ListSolutions`` (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListSolutions.html).

Ranking weights from the seed: use case exact match +15, industry alignment +5, keyword in deal text +2 per
word, category match +10; top 10 (AWS allows at most 10 solutions per opportunity). A manual list in
``aws_solution_ids`` overrides the matcher; ``fallback_solution_id`` is used when nothing matches.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .client import PartnerCentralClient, Priority
from .config import AwsConfig
from .mapping import industry_label

__all__ = ["MAX_SOLUTIONS", "SolutionCache", "choose_solutions", "rank_solutions", "score_solution"]

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
