"""How alike a deal and a remote record are: a pure function of the two :class:`Party` values.

A person entering a deal twice by hand changes small things: "Acme Corp" and "ACME Corporation", a close date
a week apart, "#AWS" in one title. Each part is scored 0..1 and weighted; a part missing on either side is
left out (its weight spread over the others), so a remote that does not list titles is not penalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from urllib.parse import urlsplit

from ..hooks.linking import Party

__all__ = ["WEIGHTS", "Score", "normal_company", "normal_domain", "score"]

WEIGHTS = {"company": 0.4, "domain": 0.25, "title": 0.2, "close_date": 0.15}
# Close dates this far apart (or more) score 0: a quarter's slip is a different deal more often than not.
CLOSE_DATE_DAYS = 60
# What two unrelated names share by chance (``SequenceMatcher``'s ratio); similarity counts from here.
CHANCE = 0.6
# Below this the customers differ, whatever the title and the date say.
SAME_CUSTOMER = 0.5
_SUFFIXES = frozenset(
    "inc incorporated corp corporation co company llc ltd limited gmbh ag sa plc the group holdings".split()
)
_TAG = re.compile(r"#\w+")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    parts: dict[str, float]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def normal_company(name: str) -> str:
    """``"ACME Corporation, Inc."`` → ``"acme"``: lower case, punctuation and legal suffixes gone."""
    words = [w for w in _words(name) if w not in _SUFFIXES]
    return " ".join(words)


def normal_domain(value: str) -> str:
    """``"https://www.acme.example/about"`` → ``"acme.example"``."""
    text = value.strip().lower()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.")


def _text_similarity(a: str, b: str) -> float:
    """Typos and reordered words score high; two unrelated short names, whose letters overlap by chance
    (``SequenceMatcher`` gives ~0.6 to "losujebe"/"losakebe"), score low: the ratio counts from 0.6 up."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    ratio = max(0.0, (SequenceMatcher(None, a, b).ratio() - CHANCE) / (1 - CHANCE))
    wa, wb = set(a.split()), set(b.split())
    jaccard = len(wa & wb) / len(wa | wb) if wa | wb else 0.0
    return max(ratio, jaccard)


def _title(text: str) -> str:
    return " ".join(_words(_TAG.sub(" ", text)))


def _close_date(a: str, b: str) -> float:
    try:
        days = abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    except ValueError:
        return 0.0
    return max(0.0, 1.0 - days / CLOSE_DATE_DAYS)


def score(deal: Party, remote: Party) -> Score:
    """0 (nothing alike) to 1 (the same customer, title and close date), with each part's score."""
    parts: dict[str, float] = {}
    if deal.company and remote.company:
        parts["company"] = _text_similarity(normal_company(deal.company), normal_company(remote.company))
    da, db = normal_domain(deal.domain), normal_domain(remote.domain)
    if da and db:
        parts["domain"] = 1.0 if da == db else 0.0
    if deal.title and remote.title:
        parts["title"] = _text_similarity(_title(deal.title), _title(remote.title))
    if deal.close_date and remote.close_date:
        parts["close_date"] = _close_date(deal.close_date, remote.close_date)
    customer = max(parts.get("company", 0.0), parts.get("domain", 0.0))
    if customer < SAME_CUSTOMER:
        # Another (or an unknown) customer: a title and a date alike are a coincidence, not a match.
        return Score(0.0, {k: round(v, 3) for k, v in parts.items()})
    weight = sum(WEIGHTS[k] for k in parts)
    total = sum(WEIGHTS[k] * v for k, v in parts.items()) / weight
    return Score(round(total, 3), {k: round(v, 3) for k, v in parts.items()})
